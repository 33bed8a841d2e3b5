// useSnapshot under a changing path, for the browser tests: every render is recorded, so a test can
// prove the old path's data never shows under the new path. ?a= and ?b= name the two documents.
import { StrictMode, useState } from "react";
import { createRoot } from "react-dom/client";
import { connect } from "livepath";
import { LivepathProvider, useSnapshot } from "livepath/react";

const client = connect({});
const params = new URLSearchParams(location.search);
const [a, b] = [params.get("a")!, params.get("b")!];
const renders: { path: string | null; status: string; title: unknown }[] = [];

function Doc({ path }: { path: string | null }) {
  const { status, data } = useSnapshot(path);
  renders.push({ path, status, title: data?.title ?? null });
  return <p data-testid="value">{status === "success" ? String(data?.title) : status}</p>;
}

function Page() {
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
Object.assign(window, { livepath: client, renders });
