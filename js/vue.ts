/**
 * `livepath/vue`: a Vue 3 composable for livepath. `useSnapshot(client, path)` returns a shallow ref
 * that follows the document at `path`. The listener is released when `path` changes and when the
 * component's scope is disposed (`onScopeDispose`), so unmounting can never leak it. On a server (SSR)
 * it stays `loading` and never subscribes: the page subscribes once it hydrates in the browser.
 *
 * ```ts
 * import { useSnapshot } from "livepath/vue";
 *
 * const room = useSnapshot(client, () => `rooms/${props.id}`);
 * // template: {{ room.status === "success" ? room.data?.title : "…" }}
 * ```
 */
import { onScopeDispose, shallowRef, toValue, watch, type MaybeRefOrGetter, type ShallowRef } from "vue";
import type { Client } from "./index.js";
import { loading, onServer, watchDocument, type SnapshotState } from "./state.js";

export type { SnapshotState } from "./state.js";

export function useSnapshot(client: Client, path: MaybeRefOrGetter<string | null>): ShallowRef<SnapshotState> {
  const state = shallowRef<SnapshotState>(loading);
  let unsubscribe: (() => void) | null = null;
  const release = () => {
    unsubscribe?.();
    unsubscribe = null;
  };
  watch(
    () => toValue(path),
    (current) => {
      release();
      state.value = loading;
      if (current === null || onServer) return;
      unsubscribe = watchDocument(client, current, (next) => (state.value = next));
    },
    { immediate: true },
  );
  onScopeDispose(release);
  return state;
}
