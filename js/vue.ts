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

/**
 * A shallow ref following what `start` subscribes to for the current `key()` (`idle` while there is
 * none, on a server, and until the new subscription answers). The subscription is released when the
 * key changes and when the scope is disposed.
 */
function useWatched<S>(
  idle: S,
  key: () => string | null,
  start: (key: string, set: (state: S) => void) => () => void,
): ShallowRef<S> {
  const state = shallowRef<S>(idle);
  let unsubscribe: (() => void) | null = null;
  const release = () => {
    unsubscribe?.();
    unsubscribe = null;
  };
  watch(
    key,
    (current) => {
      release();
      state.value = idle;
      if (current === null || onServer) return;
      unsubscribe = start(current, (next) => (state.value = next));
    },
    { immediate: true },
  );
  onScopeDispose(release);
  return state;
}

export function useSnapshot(client: Client, path: MaybeRefOrGetter<string | null>): ShallowRef<SnapshotState> {
  return useWatched(loading, () => toValue(path), (current, set) => watchDocument(client, current, set));
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
  // Keyed by content, so an equal query (a new object) keeps the subscription.
  const key = () => {
    const current = toValue(query);
    return current === null ? null : queryKey(current);
  };
  return useWatched(collectionLoading, key, (_, set) => watchCollection(client, toValue(query) as Query, set));
}
