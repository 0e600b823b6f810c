/** Which statistic an edge label shows. */
export type EdgeStat = 'both' | 'mainstat' | 'secondarystat' | 'errorRate';

export interface UniversalMapOptions {
  edgeStat: EdgeStat;
  /** Error rate (percent, 0..100) at or above which an edge is drawn red. */
  errorThreshold: number;
}

export const DEFAULT_OPTIONS: UniversalMapOptions = {
  edgeStat: 'both',
  errorThreshold: 5,
};
