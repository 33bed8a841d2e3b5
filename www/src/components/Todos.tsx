import { useState, type FormEvent } from "react";
import { isLivepathError, type DocumentSnapshot } from "livepath";
import { useClient, useCollection } from "livepath/react";
import { newId, paths } from "../board";

/** The shared todo list: a collection, one document per todo. */
export function Todos() {
  const client = useClient();
  const { status, docs, error } = useCollection(paths.todos);
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const report = (e: unknown) => setProblem(isLivepathError(e) ? `${e.code}: ${e.message}` : String(e));

  function add(e: FormEvent) {
    e.preventDefault();
    const trimmed = text.trim();
    if (!trimmed) return;
    setText("");
    client.set(paths.todo(newId()), { text: trimmed, done: false }).catch(report);
  }

  const left = docs.filter((d) => !d.data?.done).length;
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
      {status === "loading" && <p className="muted">Loading…</p>}
      {status === "error" && <p className="error">{error.message}</p>}
      <ul data-testid="todo-list">
        {docs.map((doc) => (
          <Todo key={doc.id} doc={doc} onError={report} />
        ))}
      </ul>
      {status === "success" && (
        <p className="meta" data-testid="todo-count">
          {docs.length === 0 ? "Nothing yet — add the first one." : `${left} of ${docs.length} left`}
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
