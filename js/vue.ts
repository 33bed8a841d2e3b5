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
import type { Client, Query } from "./index.js";
import {
  collectionLoading,
  loading,
  onServer,
  queryKey,
  watchCollection,
  watchDocument,
  type CollectionState,
  type SnapshotState,
} from "./state.js";

export type { CollectionState, SnapshotState } from "./state.js";

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

/**
 * The live result of a query, as a shallow ref with `useCollection`'s state in React (`docs` in the
 * query's order). The query may be a ref or a getter; an equal query (a new object with the same
 * content) keeps the subscription, a different one moves to it, `null` means "not yet".
 *
 * ```ts
 * const open = useQuery(client, () => ({ path: "rooms/r1/messages", where: [["status", "==", "open"]], limit: limit.value }));
 * ```
 */
export function useQuery(client: Client, query: MaybeRefOrGetter<Query | null>): ShallowRef<CollectionState> {
  const state = shallowRef<CollectionState>(collectionLoading);
  let unsubscribe: (() => void) | null = null;
  const release = () => {
    unsubscribe?.();
    unsubscribe = null;
  };
  watch(
    () => {
      const current = toValue(query);
      return current === null ? null : queryKey(current);
    },
    (key) => {
      release();
      state.value = collectionLoading;
      const current = toValue(query);
      if (key === null || current === null || onServer) return;
      unsubscribe = watchCollection(client, current, (next) => (state.value = next));
    },
    { immediate: true },
  );
  onScopeDispose(release);
  return state;
}
