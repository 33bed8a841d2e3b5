import { initializeApp } from "firebase/app";
import { doc, getFirestore, onSnapshot } from "firebase/firestore";

const app = initializeApp({ apiKey: "demo-key", projectId: "demo-livepath", appId: "1:1:web:1" });
const db = getFirestore(app);
onSnapshot(doc(db, "rooms", "1"), (s) => console.log(s.data()));
