// useSnapshot under a changing path, for the browser tests: every render is recorded, so a test can
// prove the old path's data never shows under the new path. ?a= and ?b= name the two documents.
// With ?collection=, useQuery instead, with its query written inline (a new object on every render).
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { connect } from "livepath";
import { LivepathProvider, useQuery, useSnapshot } from "livepath/react";

const client = connect({});
// Every listener the hooks add, counted: an inline query rendered again must not add one.
const listen = client.onSnapshot.bind(client);
const counts = { listens: 0 };
client.onSnapshot = (...args: Parameters<typeof listen>) => (counts.listens++, listen(...args));
const params = new URLSearchParams(location.search);
const [a, b] = [params.get("a")!, params.get("b")!];
const renders: { path: string | null; status: string; title: unknown }[] = [];

function Doc({ path }: { path: string | null }) {
  const { status, data } = useSnapshot(path);
  renders.push({ path, status, title: data?.title ?? null });
  return <p data-testid="value">{status === "success" ? String(data?.title) : status}</p>;
}

function Open({ collection }: { collection: string }) {
  const [limit, setLimit] = useState(2);
  const [, setTicks] = useState(0);
  const { status, docs } = useQuery({ path: collection, where: [["open", "==", true]], orderBy: [["n", "desc"]], limit });
  return (
    <>
      <button onClick={() => setTicks((t) => t + 1)}>render</button>
      <button onClick={() => setLimit((l) => l + 2)}>more</button>
      <p data-testid="value">{status === "success" ? docs.map((d) => d.id).join(",") : status}</p>
    </>
  );
}

function Page() {
  const collection = params.get("collection");
  if (collection) return <Open collection={collection} />;
  const [path, setPath] = useState<string | null>(null);
  return (
    <>
      <button onClick={() => setPath(a)}>a</button>
      <button onClick={() => setPath(b)}>b</button>
      <button onClick={() => setPath(null)}>none</button>
      <Doc path={path} />
    </>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LivepathProvider client={client}>
      <Page />
    </LivepathProvider>
  </StrictMode>,
);
Object.assign(window, { livepath: client, renders, counts });
