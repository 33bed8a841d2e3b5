import { useEffect, useState } from "react";
import { useClient, useSnapshot } from "livepath/react";
import { paths } from "../board";

/** The board's title: one shared document, edited by everyone at once. */
export function SharedTitle() {
  const client = useClient();
  const { status, data, snapshot } = useSnapshot(paths.board);
  const remote = typeof data?.title === "string" ? data.title : "";
  const [draft, setDraft] = useState<string | null>(null);
  useEffect(() => setDraft(null), [remote]);
  return (
    <section className="card">
      <div className="card-head">
        <h2>Shared document</h2>
        <code className="path">{paths.board}</code>
      </div>
      <input
        className="title-input"
        data-testid="title"
        aria-label="Board title"
        placeholder={status === "loading" ? "Loading…" : "Name this board"}
        value={draft ?? remote}
        onChange={(e) => {
          setDraft(e.target.value);
          client.set(paths.board, { title: e.target.value }).catch(() => {});
        }}
      />
      <p className="meta">
        {snapshot ? `version ${snapshot.version}` : "…"}
        {snapshot?.fromCache && <span className="muted" data-testid="from-cache"> · from cache</span>}
        {snapshot?.hasPendingWrites && <span className="pending"> · saving…</span>}
      </p>
    </section>
  );
}
