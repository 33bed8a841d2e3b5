import { RealtimeClient } from "@supabase/realtime-js";

const client = new RealtimeClient("ws://127.0.0.1:4000/socket", { params: { apikey: "demo-key" } });
client
  .channel("rooms")
  .on("postgres_changes", { event: "*", schema: "public", table: "rooms", filter: "id=eq.1" }, (change) => console.log(change.new))
  .subscribe();
