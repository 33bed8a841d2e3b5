// The Svelte store, subscribed as a component's `$store` would be, for the browser tests; with
// ?collection=, the query store of that collection's open documents instead.
import { connect } from "livepath";
import { queryStore, snapshotStore } from "livepath/svelte";

const client = connect({});
const path = new URLSearchParams(location.search).get("path") ?? "demo/svelte";
const element = document.querySelector('[data-testid="value"]')!;

const collection = new URLSearchParams(location.search).get("collection");

const stop = collection
  ? queryStore(client, { path: collection, where: [["open", "==", true]], orderBy: [["n", "desc"]] }).subscribe((state) => {
      element.textContent = state.status === "success" ? state.docs.map((d) => d.id).join(",") : state.status;
    })
  : snapshotStore(client, path).subscribe((state) => {
      element.textContent = state.status === "success" ? String(state.data?.title ?? "") : state.status;
    });
Object.assign(window, { livepath: client, unmountApp: stop });
