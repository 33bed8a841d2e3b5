/**
 * Vue 3 composable for livepath: `useSnapshot(path)` returns a shallow ref that follows the document
 * at `path`. The listener is released when `path` changes and when the component's scope is disposed
 * (`onScopeDispose`), so unmounting can never leak it.
 *
 * ```ts
 * const room = useSnapshot(client, () => `rooms/${props.id}`);
 * // template: {{ room.status === "success" ? room.data?.title : "…" }}
 * ```
 */
import { onScopeDispose, shallowRef, toValue, watch, type MaybeRefOrGetter, type ShallowRef } from "vue";
import type { Client, DocumentSnapshot, LivepathError } from "livepath";

export type SnapshotState =
  | { status: "loading"; data: null; snapshot: null; error: null }
  | { status: "success"; data: Record<string, unknown> | null; snapshot: DocumentSnapshot; error: null }
  | { status: "error"; data: null; snapshot: null; error: LivepathError };

const LOADING: SnapshotState = { status: "loading", data: null, snapshot: null, error: null };

export function useSnapshot(client: Client, path: MaybeRefOrGetter<string | null>): ShallowRef<SnapshotState> {
  const state = shallowRef<SnapshotState>(LOADING);
  let unsubscribe: (() => void) | null = null;
  const release = () => {
    unsubscribe?.();
    unsubscribe = null;
  };
  watch(
    () => toValue(path),
    (current) => {
      release();
      state.value = LOADING;
      if (current === null) return;
      unsubscribe = client.onSnapshot(
        current,
        (s) => {
          if (s.kind === "document") state.value = { status: "success", data: s.data, snapshot: s, error: null };
        },
        (error) => (state.value = { status: "error", data: null, snapshot: null, error }),
      );
    },
    { immediate: true },
  );
  onScopeDispose(release);
  return state;
}
