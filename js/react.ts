/**
 * `livepath/react`: React hooks for livepath. Each subscribes in `useEffect` and returns the unsubscribe
 * as the effect's cleanup, so unmounting (or changing the path) always releases the listener, and React
 * StrictMode's mount → unmount → mount costs one server subscription (the client releases at the end of
 * the task). Server rendering (Next.js, Vite SSR) renders `loading` and opens nothing: effects never
 * run on a server, and the client connects on its first listener, so `connect()` at module scope is
 * inert there. Hydration in the browser then subscribes as usual.
 *
 * ```tsx
 * import { useSnapshot } from "livepath/react";
 *
 * function Title({ id }: { id: string }) {
 *   const { status, data } = useSnapshot(`rooms/${id}`);
 *   return <h1>{status === "success" ? String(data?.title ?? "") : "…"}</h1>;
 * }
 * ```
 */
import { createContext, createElement, useCallback, useContext, useEffect, useState, useSyncExternalStore } from "react";
import type { ReactNode } from "react";
// The package's own entry point (`./index.js` here; `#livepath` in the package, its import map, which
// picks the same entry point as the app's `import { connect } from "livepath"`): one module and one
// wasm instance.
import { connect, type Client, type Query } from "./index.js";
import {
  collectionLoading,
  loading,
  queryKey,
  watchCollection,
  watchDocument,
  type CollectionState,
  type SnapshotState,
} from "./state.js";

export type { CollectionState, SnapshotState } from "./state.js";

const ClientContext = createContext<Client | null>(null);
let defaultClient: Client | null = null;

/** Puts `client` in context for the hooks below; without a provider they share one default client. */
export function LivepathProvider({ client, children }: { client: Client; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/**
 * The client from the nearest `LivepathProvider`, or the default one (same-origin `/v1/ws`; made on a
 * server too, where it never connects).
 */
export function useClient(): Client {
  const client = useContext(ClientContext);
  if (client) return client;
  defaultClient ??= connect({});
  return defaultClient;
}

/**
 * The live state of the document at `path`. `null` means "not yet": no subscription. A new path shows
 * `loading` until its own first snapshot; the old path's data is never shown under the new path.
 *
 * ```tsx
 * const { status, data, snapshot } = useSnapshot(user ? `users/${user.id}` : null);
 * ```
 */
export function useSnapshot(path: string | null): SnapshotState {
  return useWatched(path, loading, watchDocument);
}

/**
 * The state `watch` gives for `path` on the context's client, `idle` while there is none yet. What a
 * subscription showed goes with it: a new path, coming back to a path (A → B → A) or the same path on
 * another client shows `idle` until the new subscription answers, never an old path's data or error.
 */
function useWatched<S>(
  path: string | null,
  idle: S,
  watch: (client: Client, path: string, set: (state: S) => void) => () => void,
): S {
  const client = useClient();
  const [current, setCurrent] = useState<{ path: string | null; state: S }>({ path, state: idle });
  useEffect(() => {
    if (path === null) return;
    const stop = watch(client, path, (state) => setCurrent({ path, state }));
    return () => {
      stop();
      setCurrent((c) => (c.path === path ? { path: null, state: idle } : c));
    };
  }, [client, path]); // `idle` is a module constant; `watch` is one, or (useQuery) reads what `path` keys
  return current.path === path ? current.state : idle;
}

/**
 * The live documents of the collection at `path`, ordered by id, with the changes of the last update
 * (`oldIndex`/`newIndex` as in Firestore). `null` means "not yet".
 *
 * ```tsx
 * const { docs } = useCollection("rooms/r1/messages");
 * return <ul>{docs.map((d) => <li key={d.id}>{String(d.data?.text)}</li>)}</ul>;
 * ```
 */
export function useCollection(path: string | null): CollectionState {
  return useWatched(path, collectionLoading, watchCollection);
}

/**
 * The live result of a query (`{ path, where?, orderBy?, limit?, startAfter?, endBefore? }`): the same
 * state as `useCollection`, its documents in the query's order. `null` means "not yet". A query
 * written inline (a new object on every render) does not resubscribe: queries are compared by their
 * content, and a change of content (a filter, a higher `limit`) moves to the new query.
 *
 * ```tsx
 * const { docs } = useQuery({ path: "rooms/r1/messages", where: [["status", "==", "open"]], orderBy: [["at", "desc"]], limit });
 * ```
 */
export function useQuery(query: Query | null): CollectionState {
  // The effect (keyed by the query's content) subscribes with the query of the render that changed it.
  return useWatched(query === null ? null : queryKey(query), collectionLoading, (client, _key, set) =>
    watchCollection(client, query as Query, set),
  );
}

export type ConnectionStatus = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/**
 * The client's connection status, re-rendering on every change.
 *
 * ```tsx
 * const status = useConnectionStatus(); // "idle" | "connecting" | "open" | "reconnecting" | "closed"
 * ```
 */
export function useConnectionStatus(): ConnectionStatus {
  const client = useClient();
  // One subscription per client, not one per render.
  const subscribe = useCallback((onChange: () => void) => client.onStatus(() => onChange()), [client]);
  // On a server, and while hydrating, "idle": what the server rendered, whatever the client's socket
  // is doing by then; the real status follows at once.
  return useSyncExternalStore(subscribe, () => client.status, () => "idle");
}
