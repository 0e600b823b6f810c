import React from 'react';
import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { PluginPage } from '@grafana/runtime';
import { Card, LinkButton, Stack, Text, TextLink, useStyles2 } from '@grafana/ui';
import { DATASOURCE_UID, ROUTES, SERVICE_OVERVIEW_DASHBOARD_UID, pageUrl } from '../components/constants';

interface Signal {
  title: string;
  table: string;
  description: string;
}

// What the agent writes (table names are the public contract in src/shared/schema.ts).
const SIGNALS: Signal[] = [
  {
    title: 'Request logs',
    table: 'l7_flow_log',
    description:
      'One row per request/response (HTTP, HTTP/2, gRPC, MySQL, PostgreSQL, Redis, DNS, Kafka) at each observation point, with trace ids and AutoTracing ids.',
  },
  {
    title: 'RED metrics',
    table: 'app_metrics',
    description:
      'Requests, errors and latency per client, server, protocol and endpoint, every second, from every request.',
  },
  {
    title: 'Flow logs and network metrics',
    table: 'l4_flow_log, net_metrics',
    description: 'Bytes, packets, RTT, retransmissions, zero windows, resets and connection failures per TCP/UDP flow.',
  },
  {
    title: 'Network profiles',
    table: 'tcp_timeline',
    description: 'Packet timelines per TCP flow with connection, ACK, server-response and client-wait latency.',
  },
  {
    title: 'CPU profiles',
    table: 'profile_samples',
    description: 'On-CPU and off-CPU stacks per process, linked to the request running on the thread.',
  },
];

export function Overview() {
  const s = useStyles2(getStyles);
  return (
    <PluginPage>
      <Stack direction="column" gap={2}>
        <Text element="p">
          FlowLens watches system calls, TCP state and packets with eBPF and needs no change to your services.
          Everything lands in ClickHouse (database <code>flowlens</code>) and is queried through the FlowLens ClickHouse
          data source.
        </Text>
        <Stack gap={1}>
          <LinkButton icon="apps" href={`/d/${SERVICE_OVERVIEW_DASHBOARD_UID}`}>
            Service overview dashboard
          </LinkButton>
          <LinkButton icon="gf-traces" variant="secondary" href={pageUrl(ROUTES.traces)}>
            Search traces
          </LinkButton>
          <LinkButton icon="compass" variant="secondary" href={`/explore?left=${exploreState()}`}>
            Explore the Universal Map
          </LinkButton>
          <LinkButton icon="database" variant="secondary" href={`/connections/datasources/edit/${DATASOURCE_UID}`}>
            Data source settings
          </LinkButton>
        </Stack>
        <div className={s.grid} data-testid="flowlens-signals">
          {SIGNALS.map((sig) => (
            <Card key={sig.table}>
              <Card.Heading>{sig.title}</Card.Heading>
              <Card.Meta>{[sig.table]}</Card.Meta>
              <Card.Description>{sig.description}</Card.Description>
            </Card>
          ))}
        </div>
        <Text element="h3">Panels</Text>
        <Text element="p">
          <strong>Universal Map</strong> (<code>flowlens-universalmap-panel</code>): services as nodes, calls as
          directed edges labelled with rate and latency and coloured by error rate. Use it with a FlowLens query of type{' '}
          <code>map</code>. See it in the{' '}
          <TextLink href={`/d/${SERVICE_OVERVIEW_DASHBOARD_UID}`}>Service overview</TextLink> dashboard.
        </Text>
      </Stack>
    </PluginPage>
  );
}

function exploreState(): string {
  const state = {
    datasource: DATASOURCE_UID,
    queries: [{ refId: 'A', queryType: 'map', datasource: { uid: DATASOURCE_UID } }],
    range: { from: 'now-1h', to: 'now' },
  };
  return encodeURIComponent(JSON.stringify(state));
}

const getStyles = (theme: GrafanaTheme2) => ({
  grid: css({
    display: 'grid',
    gridTemplateColumns: 'repeat(auto-fill, minmax(320px, 1fr))',
    gap: theme.spacing(2),
  }),
});
