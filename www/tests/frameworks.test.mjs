// The hooks outside the demo: React's useSnapshot under a changing path, and the Vue composable and the
// Svelte store: subscribe, update, unmount → zero listeners; useQuery and its Vue and Svelte
// equivalents: live results in query order, an inline query that does not resubscribe.
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

/** Three documents of a new collection: c (n 3) and a (n 1) open, b closed. */
async function openDocs(prefix) {
  const collection = `${prefix}/${unique("q")}/items`;
  for (const [id, n, open] of [["a", 1, true], ["b", 2, false], ["c", 3, true]]) {
    await stack.server.put(`${collection}/${id}`, { n, open });
  }
  return collection;
}

test("react: useQuery with an inline query renders again without resubscribing, and follows its limit", async () => {
  const collection = await openDocs("react");
  await stack.server.put(`${collection}/d`, { n: 0, open: true });
  const page = await openPage(stack.browser, `${stack.appUrl}tests/pages/react.html?collection=${collection}`);
  const value = page.getByTestId("value");
  await value.filter({ hasText: "c,a" }).waitFor({ timeout: 10_000 });
  const [subscribes, listens] = [await stack.server.metric("subscribes_total"), await page.evaluate(() => counts.listens)];
  for (let i = 0; i < 5; i++) await page.getByRole("button", { name: "render" }).click();
  await page.waitForTimeout(100);
  assert.equal(await page.evaluate(() => counts.listens), listens, "no new listener for an equal query");
  assert.equal(await stack.server.metric("subscribes_total"), subscribes, "no subscribe for an equal query");
  await page.getByRole("button", { name: "more" }).click();
  await value.filter({ hasText: "c,a,d" }).waitFor({ timeout: 5_000 });
  await stack.server.put(`${collection}/b`, { n: 2, open: true });
  await value.filter({ hasText: "c,b,a,d" }).waitFor({ timeout: 5_000 });
  await page.waitForFunction(() => window.livepath.stats().subscriptions === 1);
  assert.deepEqual(page.errors, []);
  await page.close();
});

for (const framework of ["vue", "svelte"]) {
  test(`${framework}: a live query in query order, updated, released on unmount`, async () => {
    const collection = await openDocs(framework);
    const page = await openPage(stack.browser, `${stack.appUrl}tests/pages/${framework}.html?collection=${collection}`);
    const value = page.getByTestId("value");
    await value.filter({ hasText: "c,a" }).waitFor({ timeout: 10_000 });
    await stack.server.put(`${collection}/b`, { n: 4, open: true });
    await value.filter({ hasText: "b,c,a" }).waitFor({ timeout: 5_000 });
    await page.evaluate(() => window.unmountApp());
    await page.waitForFunction(() => window.livepath.stats().subscriptions === 0);
    assert.deepEqual(page.errors, []);
    await page.close();
  });
}
