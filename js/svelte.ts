/**
 * `livepath/svelte`: a Svelte store for livepath. `snapshotStore(client, path)` is a `readable` whose
 * start function subscribes and whose stop function unsubscribes, so the listener lives exactly as long
 * as something (a component's `$store`) subscribes to the store.
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
import type { Client } from "./index.js";
import { loading, watchDocument, type SnapshotState } from "./state.js";

export type { SnapshotState } from "./state.js";

export function snapshotStore(client: Client, path: string): Readable<SnapshotState> {
  return readable<SnapshotState>(loading, (set) => watchDocument(client, path, set));
}
