import { useState, type FormEvent } from "react";
import { isLivepathError, type DocumentSnapshot, type Query } from "livepath";
import { useClient, useCollection, useQuery } from "livepath/react";
import { newId, paths } from "../board";

type Show = "all" | "open" | "done";
type Sort = "oldest" | "newest" | "alphabetical";
/** How many more todos "show more" asks for. */
const PAGE = 20;

/** The live query behind the list: a filter, an order and a limit, all kept up to date by the server. */
function todosQuery(show: Show, sort: Sort, limit: number): Query {
  return {
    path: paths.todos,
    where: show === "all" ? [] : [["done", "==", show === "done"]],
    // Oldest first is the collection's own order (ids sort by creation); the others order by a field.
    orderBy: sort === "newest" ? [["createdAt", "desc"]] : sort === "alphabetical" ? [["text", "asc"]] : [],
    limit,
  };
}

/** The shared todo list: a collection, one document per todo, shown through a live query. */
export function Todos() {
  const client = useClient();
  const [show, setShow] = useState<Show>("all");
  const [sort, setSort] = useState<Sort>("oldest");
  const [limit, setLimit] = useState(PAGE);
  // A new object on every render: useQuery compares queries by content and keeps its subscription.
  const { status, docs, error } = useQuery(todosQuery(show, sort, limit));
  // The counts come from the whole collection; the client shares what both subscriptions hold, so a
  // todo checked in the "open" view leaves it at once.
  const all = useCollection(paths.todos);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const report = (e: unknown) => setProblem(isLivepathError(e) ? `${e.code}: ${e.message}` : String(e));

  function add(e: FormEvent) {
    e.preventDefault();
    const trimmed = text.trim();
    if (!trimmed) return;
    setText("");
    client.set(paths.todo(newId()), { text: trimmed, done: false, createdAt: Date.now() }).catch(report);
  }

  const left = all.docs.filter((d) => !d.data?.done).length;
  return (
    <section className="card todos">
      <div className="card-head">
        <h2>Todos</h2>
        <code className="path">{paths.todos}</code>
      </div>
      <form onSubmit={add} className="add">
        <input
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="What needs doing?"
          aria-label="New todo"
          data-testid="new-todo"
        />
        <button type="submit">Add</button>
      </form>
      <div className="view" role="toolbar" aria-label="View">
        {(["all", "open", "done"] as const).map((s) => (
          <button key={s} aria-pressed={show === s} onClick={() => setShow(s)} data-testid={`show-${s}`}>
            {s}
          </button>
        ))}
        <select value={sort} onChange={(e) => setSort(e.target.value as Sort)} aria-label="Sort" data-testid="sort">
          <option value="oldest">oldest first</option>
          <option value="newest">newest first</option>
          <option value="alphabetical">alphabetical</option>
        </select>
      </div>
      {status === "loading" && <p className="muted">Loading…</p>}
      {status === "error" && <p className="error">{error.message}</p>}
      <ul data-testid="todo-list">
        {docs.map((doc) => (
          <Todo key={doc.id} doc={doc} onError={report} />
        ))}
      </ul>
      {status === "success" && docs.length === limit && (
        <button className="more" onClick={() => setLimit(limit + PAGE)} data-testid="show-more">
          Show {PAGE} more
        </button>
      )}
      {all.status === "success" && (
        <p className="meta" data-testid="todo-count">
          {all.docs.length === 0 ? "Nothing yet — add the first one." : `${left} of ${all.docs.length} left`}
        </p>
      )}
      {problem && <p className="error">{problem}</p>}
    </section>
  );
}

function Todo({ doc, onError }: { doc: DocumentSnapshot; onError: (e: unknown) => void }) {
  const client = useClient();
  const [editing, setEditing] = useState<string | null>(null);
  const text = String(doc.data?.text ?? "");
  const done = doc.data?.done === true;
  const save = () => {
    if (editing !== null && editing.trim() && editing !== text) {
      client.update(doc.path, { text: editing.trim() }).catch(onError);
    }
    setEditing(null);
  };
  return (
    <li className={`${done ? "done" : ""} ${doc.hasPendingWrites ? "pending" : ""}`} data-testid="todo">
      <input
        type="checkbox"
        checked={done}
        aria-label={`Done: ${text}`}
        onChange={() => client.update(doc.path, { done: !done }).catch(onError)}
      />
      {editing === null ? (
        <span className="text" onDoubleClick={() => setEditing(text)} title="Double-click to rename">
          {text}
        </span>
      ) : (
        <input
          className="rename"
          autoFocus
          value={editing}
          aria-label="Rename"
          onChange={(e) => setEditing(e.target.value)}
          onBlur={save}
          onKeyDown={(e) => {
            if (e.key === "Enter") save();
            if (e.key === "Escape") setEditing(null);
          }}
        />
      )}
      <button className="remove" aria-label={`Delete: ${text}`} onClick={() => client.delete(doc.path).catch(onError)}>
        ×
      </button>
    </li>
  );
}
