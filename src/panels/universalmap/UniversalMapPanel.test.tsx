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
