/**
 * The state the framework adapters (`livepath/react`, `livepath/vue`, `livepath/svelte`) hand to
 * components, defined once: its types, its three constructors (`loading`, from a snapshot, from an
 * error), and the subscription that turns a client's snapshots into states.
 */
import type { Client, CollectionSnapshot, DocChange, DocumentSnapshot, LivepathError, Query } from "./index.js";

/**
 * Whether this is a server (Node, or any runtime without `window`), where components are rendered to
 * HTML and never mounted: there the adapters never subscribe, and render `loading` until the browser
 * takes over (hydration then subscribes as usual). React's hooks need no check: effects never run on
 * a server. Vue's immediate watchers and Svelte's stores do run there.
 */
export const onServer = typeof window === "undefined";

/** A document's state: `loading` until its first snapshot, then `success` or `error`. */
export type SnapshotState =
  | { status: "loading"; data: null; snapshot: null; error: null }
  | { status: "success"; data: Record<string, unknown> | null; snapshot: DocumentSnapshot; error: null }
  | { status: "error"; data: null; snapshot: null; error: LivepathError };

/** Before the first snapshot (and for a `null` path). */
export const loading: SnapshotState = { status: "loading", data: null, snapshot: null, error: null };

export function fromSnapshot(snapshot: DocumentSnapshot): SnapshotState {
  return { status: "success", data: snapshot.data, snapshot, error: null };
}

export function fromError(error: LivepathError): SnapshotState {
  return { status: "error", data: null, snapshot: null, error };
}

/** A collection's (or a live query's) state: its documents in order, with the changes of the last update. */
export type CollectionState =
  | { status: "loading"; docs: DocumentSnapshot[]; changes: DocChange[]; snapshot: null; error: null }
  | { status: "success"; docs: DocumentSnapshot[]; changes: DocChange[]; snapshot: CollectionSnapshot; error: null }
  | { status: "error"; docs: DocumentSnapshot[]; changes: DocChange[]; snapshot: null; error: LivepathError };

export const collectionLoading: CollectionState = { status: "loading", docs: [], changes: [], snapshot: null, error: null };

export function fromCollectionSnapshot(snapshot: CollectionSnapshot): CollectionState {
  return { status: "success", docs: snapshot.docs, changes: snapshot.changes, snapshot, error: null };
}

export function collectionFromError(error: LivepathError): CollectionState {
  return { status: "error", docs: [], changes: [], snapshot: null, error };
}

/** Calls `set` with the state of the document at `path` on every snapshot or error; returns the unsubscribe. */
export function watchDocument(client: Client, path: string, set: (state: SnapshotState) => void): () => void {
  return client.onSnapshot(
    path,
    (snapshot) => {
      if (snapshot.kind === "document") set(fromSnapshot(snapshot));
    },
    (error) => set(fromError(error)),
  );
}

/**
 * Calls `set` with the state of the collection at `path` (or of a live query) on every snapshot or
 * error; returns the unsubscribe.
 */
export function watchCollection(
  client: Client,
  path: string | Query,
  set: (state: CollectionState) => void,
): () => void {
  return client.onSnapshot(
    path,
    (snapshot) => {
      if (snapshot.kind === "collection") set(fromCollectionSnapshot(snapshot));
    },
    (error) => set(collectionFromError(error)),
  );
}

/**
 * A query's identity for the adapters: equal queries (however their objects are written: member
 * order, a new object on every render) have the same key, so a component does not resubscribe when
 * it renders an equal query again. The client shares one subscription between equal queries anyway.
 */
export function queryKey(query: Query): string {
  return JSON.stringify(query, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v,
  );
}
