import { connect } from "livepath";

const db = connect({ url: "ws://127.0.0.1:7070/v1/ws" });
db.onSnapshot("rooms/1", (s) => console.log(s.data));
