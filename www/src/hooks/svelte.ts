/**
 * Svelte store for livepath: `snapshotStore(client, path)` is a `readable` whose start function
 * subscribes and whose stop function unsubscribes, so the listener lives exactly as long as something
 * (a component's `$store`) subscribes to the store.
 *
 * ```svelte
 * <script>
 *   const room = snapshotStore(client, "rooms/r1");
 * </script>
 * <h1>{$room.status === "success" ? $room.data?.title : "…"}</h1>
 * ```
 */
import { readable, type Readable } from "svelte/store";
import type { Client, DocumentSnapshot, LivepathError } from "livepath";

export type SnapshotState =
  | { status: "loading"; data: null; snapshot: null; error: null }
  | { status: "success"; data: Record<string, unknown> | null; snapshot: DocumentSnapshot; error: null }
  | { status: "error"; data: null; snapshot: null; error: LivepathError };

const LOADING: SnapshotState = { status: "loading", data: null, snapshot: null, error: null };

export function snapshotStore(client: Client, path: string): Readable<SnapshotState> {
  return readable<SnapshotState>(LOADING, (set) =>
    client.onSnapshot(
      path,
      (s) => {
        if (s.kind === "document") set({ status: "success", data: s.data, snapshot: s, error: null });
      },
      (error) => set({ status: "error", data: null, snapshot: null, error }),
    ),
  );
}
