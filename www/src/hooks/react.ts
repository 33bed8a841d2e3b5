/**
 * React hooks for livepath. Each subscribes in `useEffect` and returns the unsubscribe as the effect's
 * cleanup, so unmounting (or changing the path) always releases the listener, and React StrictMode's
 * mount → unmount → mount costs one server subscription (the client releases at the end of the task).
 *
 * ```tsx
 * function Title({ id }: { id: string }) {
 *   const { status, data } = useSnapshot(`rooms/${id}`);
 *   return <h1>{status === "success" ? String(data?.title ?? "") : "…"}</h1>;
 * }
 * ```
 */
import { createContext, createElement, useContext, useEffect, useState, useSyncExternalStore } from "react";
import type { ReactNode } from "react";
import {
  connect,
  type Client,
  type CollectionSnapshot,
  type DocChange,
  type DocumentSnapshot,
  type LivepathError,
} from "livepath";

const ClientContext = createContext<Client | null>(null);
let defaultClient: Client | null = null;

/** Puts `client` in context for the hooks below; without a provider they share one default client. */
export function LivepathProvider({ client, children }: { client: Client; children?: ReactNode }) {
  return createElement(ClientContext.Provider, { value: client }, children);
}

/** The client from the nearest `LivepathProvider`, or the default one (same-origin `/v1/ws`). */
export function useClient(): Client {
  const client = useContext(ClientContext);
  if (client) return client;
  defaultClient ??= connect({});
  return defaultClient;
}

export type SnapshotState =
  | { status: "loading"; data: null; snapshot: null; error: null }
  | { status: "success"; data: Record<string, unknown> | null; snapshot: DocumentSnapshot; error: null }
  | { status: "error"; data: null; snapshot: null; error: LivepathError };

const LOADING: SnapshotState = { status: "loading", data: null, snapshot: null, error: null };

/**
 * The live state of the document at `path`. `null` means "not yet": no subscription. A new path shows
 * `loading` until its own first snapshot; the old path's data is never shown under the new path.
 *
 * ```tsx
 * const { status, data, snapshot } = useSnapshot(user ? `users/${user.id}` : null);
 * ```
 */
export function useSnapshot(path: string | null): SnapshotState {
  const client = useClient();
  const [current, setCurrent] = useState<{ path: string | null; state: SnapshotState }>({ path, state: LOADING });
  useEffect(() => {
    if (path === null) return;
    return client.onSnapshot(
      path,
      (snapshot) => {
        if (snapshot.kind !== "document") return;
        setCurrent({ path, state: { status: "success", data: snapshot.data, snapshot, error: null } });
      },
      (error) => setCurrent({ path, state: { status: "error", data: null, snapshot: null, error } }),
    );
  }, [client, path]);
  return current.path === path ? current.state : LOADING;
}

export type CollectionState =
  | { status: "loading"; docs: DocumentSnapshot[]; changes: DocChange[]; snapshot: null; error: null }
  | { status: "success"; docs: DocumentSnapshot[]; changes: DocChange[]; snapshot: CollectionSnapshot; error: null }
  | { status: "error"; docs: DocumentSnapshot[]; changes: DocChange[]; snapshot: null; error: LivepathError };

const COLLECTION_LOADING: CollectionState = { status: "loading", docs: [], changes: [], snapshot: null, error: null };

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
  const client = useClient();
  const [current, setCurrent] = useState<{ path: string | null; state: CollectionState }>({
    path,
    state: COLLECTION_LOADING,
  });
  useEffect(() => {
    if (path === null) return;
    return client.onSnapshot(
      path,
      (snapshot) => {
        if (snapshot.kind !== "collection") return;
        const state: CollectionState = {
          status: "success",
          docs: snapshot.docs,
          changes: snapshot.changes,
          snapshot,
          error: null,
        };
        setCurrent({ path, state });
      },
      (error) => setCurrent({ path, state: { status: "error", docs: [], changes: [], snapshot: null, error } }),
    );
  }, [client, path]);
  return current.path === path ? current.state : COLLECTION_LOADING;
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
  return useSyncExternalStore(
    (onChange) => client.onStatus(() => onChange()),
    () => client.status,
  );
}
