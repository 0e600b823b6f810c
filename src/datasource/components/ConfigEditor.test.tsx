import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import type { DataSourceSettings } from '@grafana/data';
import { ConfigEditor } from './ConfigEditor';
import type { FlowLensOptions, FlowLensSecureOptions } from '../types';

function settings(jsonData: FlowLensOptions): DataSourceSettings<FlowLensOptions, FlowLensSecureOptions> {
  return {
    id: 1,
    uid: 'flowlens',
    orgId: 1,
    name: 'FlowLens',
    type: 'flowlens-clickhouse-datasource',
    jsonData,
    secureJsonFields: {},
    secureJsonData: {},
  } as unknown as DataSourceSettings<FlowLensOptions, FlowLensSecureOptions>;
}

describe('ConfigEditor', () => {
  it('fills the local defaults into a new data source', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings({})} onOptionsChange={onOptionsChange} />);
    expect(onOptionsChange).toHaveBeenCalledWith(
      expect.objectContaining({
        jsonData: { url: 'http://127.0.0.1:18123', database: 'flowlens', username: 'grafana' },
      })
    );
  });

  it('keeps the password in secureJsonData', () => {
    const onOptionsChange = jest.fn();
    const opts = settings({ url: 'http://ch:8123', database: 'flowlens', username: 'grafana' });
    render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
    expect(onOptionsChange).not.toHaveBeenCalled();
    fireEvent.change(screen.getByPlaceholderText('password'), { target: { value: 's3cret' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ secureJsonData: { password: 's3cret' }, jsonData: opts.jsonData })
    );
  });

  it('keeps the business tags writer apart: its user in jsonData, its password in secureJsonData', () => {
    const onOptionsChange = jest.fn();
    const opts = settings({ url: 'http://ch:8123', database: 'flowlens', username: 'grafana' });
    render(<ConfigEditor options={opts} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByPlaceholderText('grafana_tags'), { target: { value: 'tags_writer' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ jsonData: { ...opts.jsonData, tagsUsername: 'tags_writer' } })
    );
    fireEvent.change(screen.getByPlaceholderText('tags writer password'), { target: { value: 't4gs' } });
    expect(onOptionsChange).toHaveBeenLastCalledWith(
      expect.objectContaining({ secureJsonData: { tagsPassword: 't4gs' } })
    );
  });
});
