"""A behaviour session as labs record it: top-view video, DeepLabCut pose, place-cell imaging.

A mouse explores a round arena, filmed from above at 30 fps (the video is rendered here,
frame by frame, from the true trajectory), tracked by "DeepLabCut" (the true keypoints plus
tracker noise, with a few low-confidence frames where the tracker jumped and one occlusion of
the nose), while place cells are imaged at 10 Hz on the microscope, which starts
``OFFSET_S`` after the camera. Both devices log per-frame times on one shared clock; the
camera drops two frames.

``write_behaviour_sample(folder)`` writes the files of ``sample_data/behaviour/``:

- ``arena_video.mp4``: the video (H.264, 160 × 128 px);
- ``arena_videoDLC_resnet50_arenaSynthShuffle1_100000.h5``: its pose in DeepLabCut's layout
  (written by movement's DeepLabCut saver), keypoints nose, body, tail_base;
- ``camera_times.csv`` / ``imaging_times.csv``: ``frame``, ``time_s`` per frame, shared clock;
- ``place_cells_traces.npy``: the imaging, (T, N) float32 dF/F;
- ``ground_truth.npz``: the true trajectory, place fields, spikes, the offset;
- ``MANIFEST.json``: the settings and each file's size and sha256.

Regenerate with ``python -m napari_cebra.synthetic.behaviour_session sample_data/behaviour``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CAMERA_FPS = 30.0
IMAGING_FPS = 10.0
OFFSET_S = 1.25  # the microscope's first frame, after the camera's first
SHAPE = (128, 160)  # video frame (H, W)
ARENA = (64.0, 80.0, 58.0)  # centre y, centre x, radius (px)
PX_PER_CM = 2.9  # a 40 cm arena
KEYPOINTS = ("nose", "body", "tail_base")
SKELETON = (("nose", "body"), ("body", "tail_base"))
NOSE_AHEAD, TAIL_BEHIND = 11.0, 9.0  # px from the body centre
DROPPED = (700, 1301)  # camera frames lost in acquisition
NAMES = dict(video="arena_video.mp4",
             pose="arena_videoDLC_resnet50_arenaSynthShuffle1_100000.h5",
             camera_times="camera_times.csv", imaging_times="imaging_times.csv",
             traces="place_cells_traces.npy", truth="ground_truth.npz")
MANIFEST = "MANIFEST.json"
SETTINGS = dict(seconds=60.0, n_neurons=60, seed=0)


@dataclass
class BehaviourSession:
    """The true session: trajectory on camera frames, imaging on imaging frames."""

    camera_times: np.ndarray  # (Tc,) s, shared clock (dropped frames removed)
    body: np.ndarray  # (Tc, 2) true body centre (x, y) px
    heading: np.ndarray  # (Tc,) radians, image axes
    keypoints: np.ndarray  # (Tc, K, 2) true keypoints (x, y) px
    pose: np.ndarray  # (Tc, K, 2) tracked keypoints (noise, tracker errors)
    confidence: np.ndarray  # (Tc, K)
    imaging_times: np.ndarray  # (Ti,) s, shared clock
    traces: np.ndarray  # (Ti, N) float32 dF/F
    spikes: np.ndarray  # (Ti, N) spike counts per imaging frame
    true_position: np.ndarray  # (Ti, 2) body centre at imaging times (x, y) px
    place_centres: np.ndarray  # (N, 2) (x, y) px


def _trajectory(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Body centre and heading: a smooth random walk that turns away from the wall."""
    cy, cx, radius = ARENA
    pos = np.array([cx, cy], float)
    angle = rng.uniform(-np.pi, np.pi)
    speed = 35.0  # px/s
    body, heading = np.zeros((n, 2)), np.zeros(n)
    dt = 1.0 / CAMERA_FPS
    turn = 0.0
    for i in range(n):
        turn = 0.9 * turn + rng.normal(0, 0.5)
        speed = np.clip(speed + rng.normal(0, 4.0), 10.0, 70.0)
        rel = pos - (cx, cy)
        r = np.hypot(*rel)
        if r > radius - 16:  # steer back towards the middle
            inward = np.arctan2(-rel[1], -rel[0])
            turn += 3.0 * np.angle(np.exp(1j * (inward - angle))) * dt * 10
        angle = np.angle(np.exp(1j * (angle + turn * dt)))
        pos = pos + speed * dt * np.array([np.cos(angle), np.sin(angle)])
        rel = pos - (cx, cy)
        r = np.hypot(*rel)
        if r > radius - 12:  # never through the wall
            pos = np.array([cx, cy]) + rel / r * (radius - 12)
        body[i], heading[i] = pos, angle
    return body, heading


def keypoints_of(body: np.ndarray, heading: np.ndarray) -> np.ndarray:
    facing = np.stack([np.cos(heading), np.sin(heading)], axis=-1)
    return np.stack([body + NOSE_AHEAD * facing, body, body - TAIL_BEHIND * facing], axis=-2)


def render_frame(body, heading) -> np.ndarray:
    """The camera's image of the animal at ``body`` (x, y) px facing ``heading``: (H, W, 3)."""
    h, w = SHAPE
    cy, cx, radius = ARENA
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(yy - cy, xx - cx)
    image = np.empty((h, w, 3), np.uint8)
    image[:] = (50, 55, 60)  # the room
    image[r < radius + 3] = (120, 120, 125)  # the wall
    image[r < radius] = (205, 200, 190)  # the floor
    # a few floor marks (static): the camera's fixed landmarks
    image[(np.abs(yy - cy) < 1) & (r < radius)] = (185, 180, 170)
    c, s = np.cos(heading), np.sin(heading)
    dx, dy = xx - body[0], yy - body[1]
    along, across = dx * c + dy * s, -dx * s + dy * c
    image[(along / 9.0) ** 2 + (across / 5.5) ** 2 <= 1] = (70, 55, 45)  # body
    hx, hy = body[0] + 8.5 * c, body[1] + 8.5 * s
    image[(xx - hx) ** 2 + (yy - hy) ** 2 <= 3.8 ** 2] = (90, 70, 60)  # head
    tail = (along < -8) & (along > -22) & (np.abs(across) < 0.9)
    image[tail] = (150, 110, 110)
    return image


def behaviour_session(seconds: float = SETTINGS["seconds"],
                      n_neurons: int = SETTINGS["n_neurons"],
                      seed: int = SETTINGS["seed"]) -> BehaviourSession:
    """Simulate the session (seeded; ~1 s)."""
    rng = np.random.default_rng(seed)
    n_cam = int(round(seconds * CAMERA_FPS)) + len(DROPPED)
    body, heading = _trajectory(n_cam, rng)
    t_cam = np.arange(n_cam) / CAMERA_FPS + rng.normal(0, 5e-4, n_cam)
    keep = np.setdiff1d(np.arange(n_cam), DROPPED)
    t_cam, body, heading = t_cam[keep], body[keep], heading[keep]
    true_kp = keypoints_of(body, heading)
    pose = true_kp + rng.normal(0, 0.6, true_kp.shape)
    confidence = rng.uniform(0.85, 1.0, true_kp.shape[:2])
    # tracker errors: short jumps (1–3 frames) with low confidence, and a 15-frame occlusion
    for start in rng.choice(np.arange(60, len(keep) - 60), 6, replace=False):
        k, length = rng.integers(0, 3), rng.integers(1, 4)
        pose[start:start + length, k] += rng.normal(0, 25, 2)
        confidence[start:start + length, k] = rng.uniform(0.05, 0.4, length)
    pose[900:915, 0] = pose[900:915, 1]  # the nose hidden: the tracker guesses the body
    confidence[900:915, 0] = rng.uniform(0.02, 0.2, 15)
    # imaging: place cells at 10 Hz from OFFSET_S on the shared clock
    n_img = int(np.floor((t_cam[-1] - OFFSET_S) * IMAGING_FPS))
    t_img = OFFSET_S + np.arange(n_img) / IMAGING_FPS
    true_position = np.stack([np.interp(t_img, t_cam, body[:, 0]),
                              np.interp(t_img, t_cam, body[:, 1])], axis=1)
    cy, cx, radius = ARENA
    ang, rad = rng.uniform(-np.pi, np.pi, n_neurons), radius * np.sqrt(rng.uniform(0, 0.8,
                                                                                   n_neurons))
    centres = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
    d2 = ((true_position[:, None, :] - centres[None]) ** 2).sum(-1)
    rate = 0.2 + 6.0 * np.exp(-d2 / (2 * 14.0 ** 2))  # Hz
    spikes = rng.poisson(rate / IMAGING_FPS).astype(np.float32)
    decay = np.exp(-1.0 / (0.6 * IMAGING_FPS))  # GCaMP-like, tau 0.6 s
    calcium = np.zeros_like(spikes)
    for i in range(n_img):
        calcium[i] = (calcium[i - 1] * decay if i else 0) + spikes[i]
    traces = (0.5 * calcium + rng.normal(0, 0.15, calcium.shape)).astype(np.float32)
    return BehaviourSession(camera_times=t_cam, body=body, heading=heading, keypoints=true_kp,
                            pose=pose, confidence=confidence, imaging_times=t_img,
                            traces=traces, spikes=spikes, true_position=true_position,
                            place_centres=centres)


def _write_times(path: Path, times: np.ndarray) -> None:
    from napari_cebra.files import atomic_write

    text = "frame,time_s\n" + "".join(f"{i},{t:.6f}\n" for i, t in enumerate(times))
    with atomic_write(path, "w", overwrite=True) as fh:
        fh.write(text)


def write_behaviour_sample(folder: str | Path, session: BehaviourSession | None = None
                           ) -> dict[str, Path]:
    """Write the sample's files into ``folder`` (each whole or absent); their paths."""
    from movement.io import load_poses, save_poses

    from napari_cebra.behaviour.video import write_video
    from napari_cebra.files import atomic_path, write_json

    s = session or behaviour_session()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / v for k, v in NAMES.items()}
    write_video(paths["video"], (render_frame(b, h) for b, h in zip(s.body, s.heading,
                                                                   strict=True)),
                CAMERA_FPS, crf=26, gop=30, overwrite=True)
    ds = load_poses.from_numpy(s.pose.transpose(0, 2, 1)[..., None], s.confidence[..., None],
                               individual_names=["mouse"], keypoint_names=list(KEYPOINTS),
                               fps=CAMERA_FPS, source_software="DeepLabCut")
    with atomic_path(paths["pose"], overwrite=True) as tmp:
        tmp.unlink()  # movement's saver writes only new files
        save_poses.to_dlc_file(ds, tmp, split_individuals=False)
    _write_times(paths["camera_times"], s.camera_times)
    _write_times(paths["imaging_times"], s.imaging_times)
    with atomic_path(paths["traces"], overwrite=True) as tmp:
        np.save(tmp, s.traces)
    with atomic_path(paths["truth"], overwrite=True) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, body=s.body, heading=s.heading, keypoints=s.keypoints,
                            true_position=s.true_position, place_centres=s.place_centres,
                            spikes=s.spikes, camera_times=s.camera_times,
                            imaging_times=s.imaging_times, offset_s=OFFSET_S,
                            px_per_cm=PX_PER_CM, dropped=np.array(DROPPED))
    files = {p.name: {"size": p.stat().st_size,
                      "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
             for p in paths.values()}
    write_json(folder / MANIFEST, overwrite=True, data={
        "generator": "napari_cebra.synthetic.behaviour_session.write_behaviour_sample",
        "settings": SETTINGS, "camera_fps": CAMERA_FPS, "imaging_fps": IMAGING_FPS,
        "offset_s": OFFSET_S, "px_per_cm": PX_PER_CM, "keypoints": list(KEYPOINTS),
        "skeleton": [list(e) for e in SKELETON], "dropped_camera_frames": list(DROPPED),
        "files": files})
    return paths


def behaviour_sample_files() -> dict[str, Path]:
    """The sample's files: the repository's ``sample_data/behaviour`` when complete, else
    generated once into the user's cache folder."""
    from napari_cebra.sample_files import cache_folder, repository_folder

    for folder in (repository_folder() / "behaviour", cache_folder() / "behaviour"):
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if all((folder / n).stat().st_size == f["size"]
                   for n, f in manifest["files"].items()):
                return {k: folder / v for k, v in NAMES.items()}
        except (OSError, ValueError, KeyError):
            continue
    return write_behaviour_sample(cache_folder() / "behaviour")


if __name__ == "__main__":
    import sys

    out = write_behaviour_sample(sys.argv[1] if len(sys.argv) > 1 else "sample_data/behaviour")
    print("\n".join(f"{p}  {p.stat().st_size / 1e3:.0f} kB" for p in out.values()))
