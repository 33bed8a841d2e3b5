// A Vue component using the composable, for the browser tests: ?path= names the document; with
// ?collection=, useQuery shows the ids of that collection's open documents instead.
import { createApp, defineComponent, h } from "vue";
import { connect } from "livepath";
import { useQuery, useSnapshot } from "livepath/vue";

const client = connect({});
const path = new URLSearchParams(location.search).get("path") ?? "demo/vue";

const collection = new URLSearchParams(location.search).get("collection");

const Open = defineComponent({
  setup() {
    const state = useQuery(client, () => ({ path: collection!, where: [["open", "==", true]], orderBy: [["n", "desc"]] }));
    return () =>
      h("p", { "data-testid": "value" }, state.value.status === "success" ? state.value.docs.map((d) => d.id).join(",") : state.value.status);
  },
});

const Title = defineComponent({
  setup() {
    const state = useSnapshot(client, path);
    return () =>
      h("p", { "data-testid": "value" }, state.value.status === "success" ? String(state.value.data?.title ?? "") : state.value.status);
  },
});

const app = createApp(collection ? Open : Title);
app.mount("#app");
Object.assign(window, { livepath: client, unmountApp: () => app.unmount() });
