// The hooks outside the demo: React's useSnapshot under a changing path, and the Vue composable and the
// Svelte store: subscribe, update, unmount → zero listeners.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openPage, useStack, unique } from "./support.mjs";

const stack = useStack();

test("react: a null path subscribes to nothing, and a new path never shows the old path's data", async () => {
  const [a, b] = [`react/${unique("a")}`, `react/${unique("b")}`];
  await stack.server.put(a, { title: "from a" });
  await stack.server.put(b, { title: "from b" });
  const page = await openPage(stack.browser, `${stack.appUrl}tests/pages/react.html?a=${a}&b=${b}`);
  const value = page.getByTestId("value");
  await value.filter({ hasText: "loading" }).waitFor({ timeout: 10_000 });
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => window.livepath.stats().listeners), 0, "null: no subscription");
  await page.getByRole("button", { name: "a" }).click();
  await value.filter({ hasText: "from a" }).waitFor();
  await page.getByRole("button", { name: "b" }).click();
  await value.filter({ hasText: "from b" }).waitFor();
  await page.waitForFunction(() => window.livepath.stats().subscriptions === 1);
  const renders = await page.evaluate(() => window.renders);
  const mixed = renders.filter((r) => r.title !== null && r.title !== `from ${r.path?.startsWith("react/a") ? "a" : "b"}`);
  assert.deepEqual(mixed, [], "every render shows its own path's data or none");
  await page.getByRole("button", { name: "none" }).click();
  await page.waitForFunction(() => window.livepath.stats().subscriptions === 0);
  assert.deepEqual(page.errors, []);
  await page.close();
});

for (const framework of ["vue", "svelte"]) {
  test(`${framework}: subscribe, update, unmount leaves zero listeners`, async () => {
    const path = `${framework}/${unique("doc")}`;
    await stack.server.put(path, { title: "first" });
    const page = await openPage(stack.browser, `${stack.appUrl}tests/pages/${framework}.html?path=${path}`);
    const value = page.getByTestId("value");
    await value.filter({ hasText: "first" }).waitFor({ timeout: 10_000 });
    await stack.server.put(path, { title: "second" });
    await value.filter({ hasText: "second" }).waitFor({ timeout: 5_000 });
    assert.equal(await page.evaluate(() => window.livepath.stats().listeners), 1);
    await page.evaluate(() => window.unmountApp());
    await page.waitForFunction(() => window.livepath.stats().subscriptions === 0);
    assert.equal(await page.evaluate(() => window.livepath.stats().listeners), 0);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
}
