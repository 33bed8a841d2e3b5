import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { connect } from "livepath";
import { LivepathProvider } from "livepath/react";
import { App } from "./App";
import "./styles.css";

// Persistence on: a reload paints the board from the cache before the socket opens ("from cache"
// below the title), and edits made offline are kept until the server has them. Shared tabs on: every
// tab of the board shares one socket (the leak lab counts the server's sockets).
const client = connect({ persistence: "indexeddb", name: "board", tabs: "shared" });
// Exposed for the browser tests and for poking around in the console.
Object.assign(window, { livepath: client });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LivepathProvider client={client}>
      <App />
    </LivepathProvider>
  </StrictMode>,
);
