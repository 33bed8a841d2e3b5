import { Centrifuge } from "centrifuge";

const client = new Centrifuge("ws://127.0.0.1:8000/connection/websocket");
const sub = client.newSubscription("rooms:1");
sub.on("publication", (ctx) => console.log(ctx.data));
sub.subscribe();
client.connect();
