// The Svelte store, subscribed as a component's `$store` would be, for the browser tests.
import { connect } from "livepath";
import { snapshotStore } from "livepath/svelte";

const client = connect({});
const path = new URLSearchParams(location.search).get("path") ?? "demo/svelte";
const element = document.querySelector('[data-testid="value"]')!;

const stop = snapshotStore(client, path).subscribe((state) => {
  element.textContent = state.status === "success" ? String(state.data?.title ?? "") : state.status;
});
Object.assign(window, { livepath: client, unmountApp: stop });
