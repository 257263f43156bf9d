// End-to-end ingest benchmark (broker -> fix-store group -> database). Filled in once broker/ runs.
export async function benchEndToEnd(_opts: { fixes?: number } = {}): Promise<Record<string, number>> {
  return {};
}
