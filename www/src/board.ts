/** Where the demo keeps its data: one board per `?board=` (default "main"). */
const board = new URLSearchParams(location.search).get("board") ?? "main";

export const paths = {
  /** The board's shared document (its title). */
  board: `boards/${board}`,
  /** The board's todos, one document each, ordered by id. */
  todos: `boards/${board}/todos`,
  todo: (id: string) => `boards/${board}/todos/${id}`,
};

/** Ids that sort in creation order (the collection is ordered by id), unique across tabs. */
export function newId(): string {
  return Date.now().toString(36).padStart(9, "0") + Math.random().toString(36).slice(2, 6);
}
