import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { connect } from "livepath";
import { LivepathProvider } from "livepath/react";
import { App } from "./App";
import "./styles.css";

const client = connect({});
// Exposed for the browser tests and for poking around in the console.
Object.assign(window, { livepath: client });

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LivepathProvider client={client}>
      <App />
    </LivepathProvider>
  </StrictMode>,
);
