import { request } from "./http";

export interface CanvasSummary {
  id: string;
  owner_id: string;
  name: string;
  version: number;
  created_at: string;
  updated_at: string;
  access: "owner" | "write" | "read";
}

export interface CanvasPage {
  canvases: CanvasSummary[];
  next_page_token: string;
}

export function listCanvases(cursor = ""): Promise<CanvasPage> {
  const query = cursor === "" ? "" : `?cursor=${encodeURIComponent(cursor)}`;
  return request<CanvasPage>("GET", `/v1/canvases${query}`);
}
