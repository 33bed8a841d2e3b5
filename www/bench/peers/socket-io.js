import { io } from "socket.io-client";

const socket = io("ws://127.0.0.1:3000");
socket.on("snapshot", (data) => console.log(data));
socket.emit("subscribe", "rooms/1");
