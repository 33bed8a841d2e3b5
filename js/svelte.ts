/**
 * `livepath/svelte`: a Svelte store for livepath. `snapshotStore(client, path)` is a `readable` whose
 * start function subscribes and whose stop function unsubscribes, so the listener lives exactly as long
 * as something (a component's `$store`) subscribes to the store. On a server (SSR, where Svelte
 * subscribes to render and unsubscribes at once) it stays `loading` and never subscribes.
 *
 * ```svelte
 * <script>
 *   import { snapshotStore } from "livepath/svelte";
 *   const room = snapshotStore(client, "rooms/r1");
 * </script>
 * <h1>{$room.status === "success" ? $room.data?.title : "…"}</h1>
 * ```
 */
import { readable, type Readable } from "svelte/store";
import type { Client, Query } from "./index.js";
import {
  collectionLoading,
  loading,
  onServer,
  watchCollection,
  watchDocument,
  type CollectionState,
  type SnapshotState,
} from "./state.js";

export type { CollectionState, SnapshotState } from "./state.js";

export function snapshotStore(client: Client, path: string): Readable<SnapshotState> {
  return readable<SnapshotState>(loading, (set) => (onServer ? undefined : watchDocument(client, path, set)));
}

/**
 * A readable store of a live query's result (`docs` in the query's order), subscribed while something
 * subscribes to the store. For a query that changes, derive a new store from it (`$: open =
 * queryStore(client, { path, limit })`): the old one is released when nothing reads it.
 */
export function queryStore(client: Client, query: Query): Readable<CollectionState> {
  return readable<CollectionState>(collectionLoading, (set) =>
    onServer ? undefined : watchCollection(client, query, set),
  );
}
