"""One writer per output type: images/depth/normals/masks, NeRF transforms, COLMAP model,
EG3D labels (+ zip), and the per-identity record / dataset manifest."""
