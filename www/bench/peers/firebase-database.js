import { initializeApp } from "firebase/app";
import { getDatabase, onValue, ref } from "firebase/database";

const app = initializeApp({ apiKey: "demo-key", projectId: "demo-livepath", databaseURL: "https://demo-livepath.firebaseio.com" });
const db = getDatabase(app);
onValue(ref(db, "rooms/1"), (s) => console.log(s.val()));
