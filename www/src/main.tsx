import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { connect } from "livepath";
import { LivepathProvider } from "livepath/react";
import { App } from "./App";
import "./styles.css";

// Persistence on: a reload paints the board from the cache before the socket opens ("from cache"
// below the title), and edits made offline are kept until the server has them.
const client = connect({ persistence: "indexeddb", name: "board" });
// Exposed for the browser tests and for poking around in the console.
Object.assign(window, { livepath: client });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LivepathProvider client={client}>
      <App />
    </LivepathProvider>
  </StrictMode>,
);
