export interface NetProfileOptions {
  /** draw the largest system (ACK) latency of each observation point beside the conversation's turns */
  showAckLatency: boolean;
  /** shade the longest interval of the flow: where its time went */
  highlightLargest: boolean;
}

export const DEFAULT_OPTIONS: NetProfileOptions = {
  showAckLatency: true,
  highlightLargest: true,
};
