// A Vue component using the composable, for the browser tests: ?path= names the document.
import { createApp, defineComponent, h } from "vue";
import { connect } from "livepath";
import { useSnapshot } from "livepath/vue";

const client = connect({});
const path = new URLSearchParams(location.search).get("path") ?? "demo/vue";

const Title = defineComponent({
  setup() {
    const state = useSnapshot(client, path);
    return () =>
      h("p", { "data-testid": "value" }, state.value.status === "success" ? String(state.value.data?.title ?? "") : state.value.status);
  },
});

const app = createApp(Title);
app.mount("#app");
Object.assign(window, { livepath: client, unmountApp: () => app.unmount() });
