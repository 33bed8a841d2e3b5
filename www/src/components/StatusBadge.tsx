import { useConnectionStatus } from "livepath/react";

export function StatusBadge() {
  const status = useConnectionStatus();
  return (
    <span className={`badge ${status}`} data-testid="status" title="Connection status">
      <span className="dot" />
      {status}
    </span>
  );
}
