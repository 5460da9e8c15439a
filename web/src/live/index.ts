// The studio's live events: one connection per user, shared by the user's tabs.
export type { EventListener, EventMeta, LiveClient, TopicHandlers } from "./client";
export type { LiveStatus } from "./connection";
export { LiveConnection, type LiveConnectionOptions } from "./connection";
export { createLiveClient } from "./browser";
export {
  useLiveClient,
  useLiveStatus,
  useLiveTopic,
  useUserEvents,
  type TopicOptions,
} from "./hooks";
export { LiveProvider, type LiveProviderProps } from "./LiveProvider";
export {
  canvasTopic,
  USER_TOPIC,
  type PresenceMessage,
  type Refused,
  type Viewer,
} from "./protocol";
export { LiveTab, type ChannelLike, type LiveTabOptions, type LockManagerLike } from "./tabs";
