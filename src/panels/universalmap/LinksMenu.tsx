import React from 'react';
import type { LinkModel } from '@grafana/data';
import { ContextMenu, MenuGroup, MenuItem } from '@grafana/ui';

export interface MenuAt {
  title: string;
  /** viewport coordinates of the click */
  x: number;
  y: number;
  links: LinkModel[];
}

/** The data links of a clicked node or edge (its RED, requests, traces, flows), as Grafana's node graph offers them. */
export function LinksMenu({ menu, onClose }: { menu: MenuAt; onClose: () => void }) {
  return (
    <ContextMenu
      x={menu.x}
      y={menu.y}
      onClose={onClose}
      renderMenuItems={() => (
        <MenuGroup label={menu.title}>
          {menu.links.length === 0 ? (
            <MenuItem label="No links" disabled />
          ) : (
            menu.links.map((l, i) => (
              <MenuItem
                key={i}
                label={l.title}
                url={l.href}
                target={l.target}
                testId="map-link"
                onClick={
                  l.onClick
                    ? (e) => {
                        l.onClick!(e);
                        onClose();
                      }
                    : undefined
                }
              />
            ))
          )}
        </MenuGroup>
      )}
    />
  );
}
