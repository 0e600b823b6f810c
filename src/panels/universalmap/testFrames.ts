import { FieldType, createDataFrame, type DataFrame } from '@grafana/data';

/** Synthetic node-graph frames in the shape the backend's `map` query returns (used by unit tests). */
export function mapFrames(): DataFrame[] {
  const nodes = createDataFrame({
    name: 'nodes',
    refId: 'A',
    fields: [
      { name: 'id', type: FieldType.string, values: ['frontend', 'api', 'orders', 'mysql'] },
      { name: 'title', type: FieldType.string, values: ['frontend', 'api', 'orders', 'mysql'] },
      { name: 'subtitle', type: FieldType.string, values: ['HTTP', 'HTTP', 'gRPC', 'MySQL'] },
      { name: 'mainstat', type: FieldType.number, values: [0, 12.5, 10, 30], config: { unit: 'reqps' } },
      { name: 'secondarystat', type: FieldType.number, values: [0, 42, 17.5, 2.25], config: { unit: 'ms' } },
      {
        name: 'arc__success',
        type: FieldType.number,
        values: [1, 0.9, 1, 1],
        config: { color: { mode: 'fixed', fixedColor: 'green' } },
      },
      {
        name: 'arc__errors',
        type: FieldType.number,
        values: [0, 0.1, 0, 0],
        config: { color: { mode: 'fixed', fixedColor: 'red' } },
      },
    ],
  });
  const edges = createDataFrame({
    name: 'edges',
    refId: 'A',
    fields: [
      { name: 'id', type: FieldType.string, values: ['frontend->api', 'api->orders', 'orders->mysql'] },
      { name: 'source', type: FieldType.string, values: ['frontend', 'api', 'orders'] },
      { name: 'target', type: FieldType.string, values: ['api', 'orders', 'mysql'] },
      { name: 'mainstat', type: FieldType.number, values: [12.5, 10, 30], config: { unit: 'reqps' } },
      { name: 'secondarystat', type: FieldType.number, values: [42, 17.5, 2.25], config: { unit: 'ms' } },
      {
        name: 'detail__error_rate',
        type: FieldType.number,
        values: [1.25, 0.1, 0],
        config: { unit: 'reqps', displayName: 'Errors/s' },
      },
      {
        name: 'detail__error_ratio',
        type: FieldType.number,
        values: [0.1, 0.01, 0],
        config: { unit: 'percentunit', displayName: 'Error ratio' },
      },
    ],
  });
  return [nodes, edges];
}
