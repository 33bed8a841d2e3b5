// The Vue composable and the Svelte store: subscribe, update, unmount → zero listeners.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { LivepathServer, launchBrowser, openPage, startVite, unique } from "./support.mjs";

let server, vite, browser, appUrl;

before(async () => {
  server = await LivepathServer.start();
  vite = await startVite(server);
  appUrl = vite.resolvedUrls.local[0];
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await vite?.close();
  await server?.close();
});

for (const framework of ["vue", "svelte"]) {
  test(`${framework}: subscribe, update, unmount leaves zero listeners`, async () => {
    const path = `${framework}/${unique("doc")}`;
    await server.put(path, { title: "first" });
    const page = await openPage(browser, `${appUrl}tests/pages/${framework}.html?path=${path}`);
    const value = page.getByTestId("value");
    await value.filter({ hasText: "first" }).waitFor({ timeout: 10_000 });
    await server.put(path, { title: "second" });
    await value.filter({ hasText: "second" }).waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate(() => window.livepath.stats().listeners), 1);
    await page.evaluate(() => window.unmountApp());
    await page.waitForFunction(() => window.livepath.stats().subscriptions === 0);
    assert.equal(await page.evaluate(() => window.livepath.stats().listeners), 0);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
}
