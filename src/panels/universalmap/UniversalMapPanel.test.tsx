import React from 'react';
import { fireEvent, render, screen, within } from '@testing-library/react';
import { type DataFrame, FieldType } from '@grafana/data';
import { panelProps } from '../testPanelProps';
import { UniversalMapPanel } from './UniversalMapPanel';
import { mapFrames } from './testFrames';
import { DEFAULT_OPTIONS, type UniversalMapOptions } from './types';

function props(series: DataFrame[], options: Partial<UniversalMapOptions> = {}) {
  return panelProps<UniversalMapOptions>(series, { ...DEFAULT_OPTIONS, ...options }, { title: 'Universal Map' });
}

describe('UniversalMapPanel', () => {
  it('draws one node per service and one edge per call, with names and stats', () => {
    render(<UniversalMapPanel {...props(mapFrames())} />);
    const nodes = screen.getAllByTestId('map-node');
    const edges = screen.getAllByTestId('map-edge');
    expect(nodes).toHaveLength(4);
    expect(edges).toHaveLength(3);
    for (const name of ['frontend', 'api', 'orders', 'mysql']) {
      expect(screen.getByText(name)).toBeInTheDocument();
    }
    const apiToOrders = edges.find((e) => e.getAttribute('data-source') === 'api')!;
    expect(apiToOrders.getAttribute('data-target')).toBe('orders');
    expect(within(apiToOrders).getByTestId('map-edge-label')).toHaveTextContent('10 req/s · 17.5 ms');
  });

  it('colours edges by error rate against the threshold', () => {
    render(<UniversalMapPanel {...props(mapFrames(), { errorThreshold: 5 })} />);
    const sev = Object.fromEntries(
      screen.getAllByTestId('map-edge').map((e) => [e.getAttribute('data-source'), e.getAttribute('data-severity')])
    );
    expect(sev).toEqual({ frontend: 'error', api: 'warn', orders: 'ok' });
  });

  it('shows the chosen statistic on edges', () => {
    render(<UniversalMapPanel {...props(mapFrames(), { edgeStat: 'errorRate' })} />);
    const labels = screen.getAllByTestId('map-edge-label').map((t) => t.textContent);
    expect(labels).toEqual(['10.0% errors', '1.00% errors', '0.00% errors']);
  });

  it('lays clients out left of the services they call', () => {
    render(<UniversalMapPanel {...props(mapFrames())} />);
    const x = (id: string) => Number(document.querySelector(`[data-id="${id}"] circle`)!.getAttribute('cx'));
    expect(x('frontend')).toBeLessThan(x('api'));
    expect(x('api')).toBeLessThan(x('orders'));
    expect(x('orders')).toBeLessThan(x('mysql'));
  });

  it('shows a tooltip with the call details on hover', () => {
    render(<UniversalMapPanel {...props(mapFrames())} />);
    const edge = screen.getAllByTestId('map-edge').find((e) => e.getAttribute('data-source') === 'frontend')!;
    fireEvent.mouseMove(edge, { clientX: 10, clientY: 10 });
    const tip = screen.getByTestId('universal-map-tooltip');
    expect(within(tip).getByText('frontend → api')).toBeInTheDocument();
    expect(within(tip).getByText('10.0% errors')).toBeInTheDocument();
  });

  it('derives nodes from edges when the nodes frame is missing', () => {
    const [, edges] = mapFrames();
    render(<UniversalMapPanel {...props([edges])} />);
    expect(screen.getAllByTestId('map-node')).toHaveLength(4);
  });

  it('marks the calls whose network is unhealthy, with the backend’s verdict', () => {
    const frames = mapFrames();
    const edges = frames[1];
    edges.fields.push(
      { name: 'detail__network', type: FieldType.string, values: ['ok', '2.9% retransmitted', ''], config: {} },
      { name: 'highlighted', type: FieldType.boolean, values: [false, true, false], config: {} }
    );
    edges.length = 3;
    render(<UniversalMapPanel {...props(frames)} />);
    const drawn = screen.getAllByTestId('map-edge');
    const by = (src: string) => drawn.find((e) => e.getAttribute('data-source') === src)!;
    expect(by('api')).toHaveAttribute('data-network', 'unhealthy');
    expect(within(by('api')).getByTestId('map-edge-network')).toBeInTheDocument();
    expect(within(by('api')).getByTestId('map-edge-network-label')).toHaveTextContent('⚠ 2.9% retransmitted');
    expect(by('frontend')).toHaveAttribute('data-network', 'ok');
    expect(within(by('frontend')).queryByTestId('map-edge-network')).not.toBeInTheDocument();
    expect(by('orders')).not.toHaveAttribute('data-network');
    expect(screen.getAllByTestId('map-edge-network')).toHaveLength(1);
  });

  it('says a node serves none of the calls shown, instead of 0 req/s · 0 ms', () => {
    render(<UniversalMapPanel {...props(mapFrames())} />);
    const node = (id: string) => screen.getAllByTestId('map-node').find((n) => n.getAttribute('data-id') === id)!;
    // frontend only calls api here
    expect(node('frontend')).toHaveTextContent('calls only');
    expect(node('frontend')).not.toHaveTextContent('req/s');
    expect(node('api')).toHaveTextContent('12.5 req/s');
  });

  it('says what a call only the network saw is, instead of 0 req/s · 0 ms', () => {
    const frames = mapFrames();
    const edges = frames[1];
    const col = (name: string, type: FieldType, values: unknown[]) => ({ name, type, values, config: {} });
    const zero = { mainstat: [12.5, 0, 30], secondarystat: [42, 0, 2.25] } as Record<string, number[]>;
    edges.fields = edges.fields.map((f) => (zero[f.name] ? { ...f, values: zero[f.name] } : f));
    edges.fields.push(
      col('detail__requests', FieldType.number, [125, 0, 300]),
      col('detail__network', FieldType.string, ['ok', '3 failed connections, 3 RSTs', 'ok']),
      col('detail__conn_failed', FieldType.number, [0, 3, 0]),
      col('detail__rsts', FieldType.number, [0, 3, 0]),
      col('highlighted', FieldType.boolean, [false, true, false])
    );
    render(<UniversalMapPanel {...props(frames)} />);
    const by = (src: string) => screen.getAllByTestId('map-edge').find((e) => e.getAttribute('data-source') === src)!;
    expect(within(by('api')).getByTestId('map-edge-label')).toHaveTextContent(
      'no requests parsed · 3 conn failed, 3 RSTs'
    );
    expect(within(by('frontend')).getByTestId('map-edge-label')).toHaveTextContent('12.5 req/s · 42 ms');
  });

  it("draws where each call's time goes, from the latency at each observation point", () => {
    const frames = mapFrames();
    const edges = frames[1];
    // as the backend names them (pkg/plugin/nodegraph.go)
    const ms = (name: string, displayName: string, values: Array<number | null>) => ({
      name,
      type: FieldType.number,
      values,
      config: { unit: 'ms', displayName },
    });
    edges.fields.push(
      ms('detail__latency_client_process', 'Latency at client process', [52.43, 0.94, null]),
      ms('detail__latency_server_process', 'Latency at server process', [51.94, 0.78, 2.25]),
      ms('detail__time_in_client', 'Time in client', [0.15, null, null]),
      ms('detail__time_in_network', 'Time on the path', [0.34, 0.04, null]),
      ms('detail__time_in_server', 'Time in server', [51.94, 0.89, null])
    );
    render(<UniversalMapPanel {...props(frames)} />);
    const by = (src: string) => screen.getAllByTestId('map-edge').find((e) => e.getAttribute('data-source') === src)!;
    const parts = (src: string) =>
      within(by(src))
        .queryAllByTestId('map-edge-split-part')
        .map((r) => `${r.getAttribute('data-part')}:${Number(r.getAttribute('width')).toFixed(1)}`);
    expect(parts('frontend')).toEqual(['client:2.2', 'network:2.4', 'server:59.5']);
    expect(within(by('frontend')).getByTestId('map-edge-split-label')).toHaveTextContent('server 99%');
    expect(parts('api')).toEqual(['network:4.6', 'server:59.4']);
    // one point only (the server's): no split to draw
    expect(within(by('orders')).queryByTestId('map-edge-split')).not.toBeInTheDocument();
    fireEvent.mouseMove(by('frontend'), { clientX: 10, clientY: 10 });
    const tip = screen.getByTestId('universal-map-tooltip');
    expect(within(tip).getByText('Latency at client process')).toBeInTheDocument();
    expect(within(tip).getByText('Time in server')).toBeInTheDocument();
    expect(within(tip).getAllByText('51.9 ms')).toHaveLength(2); // at the server's process, and in the server
  });

  it('shows an empty state without data', () => {
    render(<UniversalMapPanel {...props([])} />);
    expect(screen.getByTestId('universal-map-empty')).toHaveTextContent('No service map data');
    expect(screen.queryByTestId('universal-map')).not.toBeInTheDocument();
  });

  it("a click on a node or an edge opens its row's data links (Grafana's link supplier on the id field)", () => {
    const frames = mapFrames();
    // as Grafana's panel query runner leaves the fields: the backend's links in the config, getLinks filling them
    for (const f of frames) {
      const id = f.fields.find((x) => x.name === 'id')!;
      const name = f.name === 'nodes' ? 'service' : 'call';
      id.config.links = [
        { title: `RED of this ${name}`, url: '' },
        { title: 'Traces', url: '' },
      ];
      id.getLinks = ({ valueRowIndex }: { valueRowIndex?: number }) =>
        id.config.links!.map((l) => ({
          title: `${l.title} ${id.values[valueRowIndex!]}`,
          href: `/explore?row=${valueRowIndex}`,
          target: '_self' as const,
          origin: id,
        }));
    }
    render(<UniversalMapPanel {...props(frames)} />);
    fireEvent.click(document.querySelector('[data-id="orders"]')!);
    expect(screen.getAllByTestId('map-link').map((l) => l.textContent)).toEqual([
      'RED of this service orders',
      'Traces orders',
    ]);
    expect(screen.getAllByTestId('map-link')[0].closest('a')).toHaveAttribute('href', '/explore?row=2');
    fireEvent.keyDown(document, { key: 'Escape' });
    const apiToOrders = screen.getAllByTestId('map-edge').find((e) => e.getAttribute('data-source') === 'api')!;
    fireEvent.click(apiToOrders);
    expect(screen.getByText('api → orders')).toBeInTheDocument();
    expect(screen.getAllByTestId('map-link').map((l) => l.textContent)).toContain('RED of this call api->orders');
  });
});
