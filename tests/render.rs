//! Render test: `citytwin shot` opens a real window under Xvfb with Mesa's software
//! Vulkan (lavapipe), and the PNG it writes shows the city, the markers and the panels.
//! The city is the generator's `district` scale (the old centre and the CBD), written
//! once per run by the real `citytwin gen-city`.

use std::path::PathBuf;
use std::process::Command;

const W: u32 = 1280;
const H: u32 = 720;

/// `xvfb-run -a` can pick the same display twice when started at the same moment,
/// and two software renderers on 2 cores slow each other: one shot at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The generated district's scene file.
fn district_scene() -> PathBuf {
    static SCENE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    SCENE
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("render-district");
            let _ = std::fs::remove_dir_all(&dir);
            let status = Command::new(env!("CARGO_BIN_EXE_citytwin"))
                .args(["gen-city", "--scale", "district", "--out"])
                .arg(&dir)
                .status()
                .expect("citytwin runs");
            assert!(status.success(), "gen-city failed");
            dir.join("scene.ron")
        })
        .clone()
}

/// Runs `citytwin shot ARGS…` on the generated district under Xvfb; returns the picture
/// and what the app logged.
fn shot(name: &str, args: &[&str]) -> (image::RgbImage, String) {
    shot_of(&district_scene(), name, args)
}

/// The generated district's scene with camera snapshots allowed from this machine.
fn district_scene_with_local_snapshots() -> PathBuf {
    let scene = district_scene();
    let text = std::fs::read_to_string(&scene).expect("scene");
    let body = text
        .trim_end()
        .strip_suffix(')')
        .expect("a RON struct")
        .trim_end();
    let comma = if body.ends_with(',') { "" } else { "," };
    let path = scene.with_file_name("scene-local-snapshots.ron");
    std::fs::write(
        &path,
        format!("{body}{comma}\n    security: (snapshot_hosts: [\"127.0.0.1\"]),\n)\n"),
    )
    .expect("write scene");
    path
}

fn shot_of(scene: &std::path::Path, name: &str, args: &[&str]) -> (image::RgbImage, String) {
    shot_sized(scene, name, (W, H), args)
}

/// `shot` at `size` (the virtual screen made as large).
fn shot_sized(
    scene: &std::path::Path,
    name: &str,
    (w, h): (u32, u32),
    args: &[&str],
) -> (image::RgbImage, String) {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("shot-{name}.png"));
    let _ = std::fs::remove_file(&out);
    let size = format!("{w}x{h}");
    let screen = format!("-screen 0 {}x{}x24", w.max(1920), h.max(1080));
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", &screen])
        .arg(env!("CARGO_BIN_EXE_citytwin"))
        .args(["shot", "--size", &size, "--out"])
        .arg(&out)
        .arg("--scene")
        .arg(scene)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // Software Vulkan when there is no GPU; a real one is used where present.
        .env("WGPU_BACKEND", "vulkan");
    cmd.args(args);
    let result = cmd
        .output()
        .expect("xvfb-run is missing: install Debian's xvfb (scripts/install-deps.sh does)");
    assert!(
        result.status.success(),
        "shot failed ({}):\n{}",
        result.status,
        String::from_utf8_lossy(&result.stderr)
    );
    let log = String::from_utf8_lossy(&result.stderr).into_owned();
    (image::open(&out).expect("shot wrote a PNG").to_rgb8(), log)
}

/// Share of pixels in a rectangle that satisfy `f`.
fn share(
    img: &image::RgbImage,
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
    f: impl Fn([u8; 3]) -> bool,
) -> f64 {
    let mut hits = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            if f(img.get_pixel(x, y).0) {
                hits += 1;
            }
        }
    }
    hits as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

/// Blue-grey building walls and roofs (the night palette), not the teal ground nor
/// the navy of water (walls sit ~40 above green in blue, water ~25).
fn building([r, g, b]: [u8; 3]) -> bool {
    b > 90 && b as i32 - r as i32 > 25 && b as i32 - g as i32 > 30
}

/// The green of an online device: its marker close in, its cluster column far out.
fn marker_green([r, g, b]: [u8; 3]) -> bool {
    g > 150 && g as i32 - r as i32 > 70 && g as i32 - b as i32 > 25
}

/// A named view looks at its place: buildings around the middle of the picture.
fn assert_buildings_at_centre(img: &image::RgbImage, view: &str, min: f64) {
    let (cx, cy) = (W / 2, H / 2);
    let found = share(img, cx - 200, cy - 120, cx + 200, cy + 120, building);
    assert!(
        found > min,
        "view {view}: buildings cover only {:.1}% of the centre",
        found * 100.0
    );
}

#[test]
fn wall_screenshot_shows_city_markers_and_panels() {
    let (img, _) = shot("default", &[]);
    assert_eq!(img.dimensions(), (W, H));
    // The 3D viewport (between the KPI panel and the alerts, the header and the status
    // bar; the panels are 360 and 420 logical pixels wide, at 0.75 on a 720-line
    // window).
    let (vx0, vy0, vx1, vy1) = (300, 80, W - 330, H - 40);
    let lit = share(&img, vx0, vy0, vx1, vy1, |[r, g, b]| {
        r as u32 + g as u32 + b as u32 > 150
    });
    assert!(
        lit > 0.3,
        "only {:.1}% of the viewport shows lit geometry",
        lit * 100.0
    );
    let buildings = share(&img, vx0, vy0, vx1, vy1, building);
    assert!(
        buildings > 0.1,
        "blue-grey buildings cover only {:.2}%",
        buildings * 100.0
    );
    // Far out, markers merge into green columns (one per square of the map).
    let markers = share(&img, vx0, vy0, vx1, vy1, marker_green);
    assert!(
        markers > 0.005,
        "no green device markers ({:.3}%)",
        markers * 100.0
    );
    // The KPI panel: dark glass with bright numbers.
    let panel_dark = share(&img, 10, 90, 230, H - 60, |[r, g, b]| {
        r < 40 && g < 50 && b < 70
    });
    assert!(
        panel_dark > 0.8,
        "KPI panel background only {:.1}%",
        panel_dark * 100.0
    );
    let panel_text = share(&img, 10, 90, 230, H - 60, |[r, g, b]| {
        r as u32 + g as u32 + b as u32 > 400
    });
    assert!(
        panel_text > 0.02,
        "KPI panel has no text ({:.2}%)",
        panel_text * 100.0
    );
    // The header: the scene name in cyan.
    let title = share(&img, 0, 0, W / 2, 50, |[r, g, b]| {
        b > 180 && g > 140 && r < 140
    });
    assert!(title > 0.01, "no header title ({:.2}%)", title * 100.0);
}

/// Dark glass with text in it: a panel drawn with content. (A new critical alert's row
/// flashes dark red: that is the panel's glass too.)
fn assert_panel(img: &image::RgbImage, what: &str, (x0, y0, x1, y1): (u32, u32, u32, u32)) {
    let dark = share(img, x0, y0, x1, y1, |[r, g, b]| {
        (r < 45 && g < 55 && b < 75) || ((90..150).contains(&r) && g < 40 && b < 40)
    });
    let text = share(img, x0, y0, x1, y1, |[r, g, b]| {
        r as u32 + g as u32 + b as u32 > 380
    });
    assert!(
        dark > 0.6 && text > 0.004,
        "{what}: {:.1}% dark, {:.2}% text",
        dark * 100.0,
        text * 100.0
    );
}

/// Pixels that differ between two pictures in a rectangle, as a share.
fn differ(a: &image::RgbImage, b: &image::RgbImage, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> f64 {
    let mut n = 0;
    for y in y0..y1 {
        for x in x0..x1 {
            let (p, q) = (a.get_pixel(x, y).0, b.get_pixel(x, y).0);
            if (0..3).any(|i| p[i].abs_diff(q[i]) > 40) {
                n += 1;
            }
        }
    }
    n as f64 / ((x1 - x0) * (y1 - y0)) as f64
}

/// A wall of two 1920×1080 screens side by side, in Chinese and in English: every
/// panel (header, KPI board, feeds, alerts, work orders, the charts strip) is drawn
/// with content in its place, and the two languages differ in each.
#[test]
fn the_wall_at_3840x1080_shows_every_panel_in_chinese_and_in_english() {
    let size = (3840, 1080);
    let regions = [
        ("header", (0, 0, 3840, 60)),
        ("KPI board", (10, 80, 350, 560)),
        // The orders stand at the right edge, the alerts beside them.
        ("work orders", (3430, 80, 3830, 500)),
        ("alerts", (3010, 80, 3410, 500)),
        ("charts strip", (380, 830, 2990, 1030)),
    ];
    // One start for both languages: Chinese first, then `--also` switches to English
    // and captures again.
    let english = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("shot-wall-3840-en.png");
    let _ = std::fs::remove_file(&english);
    let also = format!("en={}", english.display());
    let (chinese, log) = shot_sized(
        &district_scene(),
        "wall-3840-zh-CN",
        size,
        &["--language", "zh-CN", "--also", &also],
    );
    assert_eq!(log.matches("shot: saved").count(), 2, "{log}");
    assert!(log.contains("shot: language en"), "{log}");
    let english = image::open(&english).expect("the English shot").to_rgb8();
    let mut shots = Vec::new();
    for (language, img) in [("zh-CN", chinese), ("en", english)] {
        assert_eq!(img.dimensions(), size);
        for (what, rect) in regions {
            assert_panel(&img, &format!("{language} {what}"), rect);
        }
        // The map between the panels shows the city.
        let lit = share(&img, 400, 100, 2980, 800, |[r, g, b]| {
            r as u32 + g as u32 + b as u32 > 150
        });
        assert!(
            lit > 0.2,
            "{language}: the map shows {:.1}% lit",
            lit * 100.0
        );
        shots.push(img);
    }
    for (what, rect) in regions {
        let d = differ(&shots[0], &shots[1], rect);
        assert!(
            d > 0.002,
            "{what}: the same in both languages ({:.3}%)",
            d * 100.0
        );
    }
}

/// Share of pixels in the rectangle that differ (by more than 48 in a channel) between
/// two pictures placed at `a_at` and `b_at`.
fn mismatch(
    a: &image::RgbImage,
    a_at: (u32, u32),
    b: &image::RgbImage,
    b_at: (u32, u32),
    (w, h): (u32, u32),
) -> f64 {
    // What moves with the feed between two shots is left out: device markers (green,
    // amber, red) and the pulsing rings of new alerts.
    let live = |[r, g, b]: [u8; 3]| {
        let (hi, lo) = (r.max(g).max(b), r.min(g).min(b));
        marker_green([r, g, b]) || (r > 150 && hi - lo > 90) || (hi - lo > 120 && b < 120)
    };
    let (mut n, mut compared) = (0, 0);
    for y in 0..h {
        for x in 0..w {
            let p = a.get_pixel(a_at.0 + x, a_at.1 + y).0;
            let q = b.get_pixel(b_at.0 + x, b_at.1 + y).0;
            if live(p) || live(q) {
                continue;
            }
            compared += 1;
            if (0..3).any(|i| p[i].abs_diff(q[i]) > 48) {
                n += 1;
            }
        }
    }
    assert!(
        compared > (w * h) / 2,
        "most of the region moves with the feed"
    );
    n as f64 / compared as f64
}

/// Two machines' tiles of one view, side by side, are the single shot of the whole
/// view: the same city in the same place on both sides of the seam. (The tiles carry
/// their own panels, so the map between the panels is compared: from the KPI board's
/// edge to the alerts', under the header and above the charts.)
#[test]
fn two_tiles_side_by_side_equal_one_shot_of_the_whole_view() {
    let scene = district_scene();
    let (whole, _) = shot_sized(&scene, "tiles-whole", (W, H), &["--view", "erqi"]);
    let half = (W / 2, H);
    let tile = |c: u32| {
        let name = format!("tiles-{c}");
        let at = format!("{c},0");
        shot_sized(
            &scene,
            &name,
            half,
            &["--view", "erqi", "--tile", &at, "--tiles", "2x1"],
        )
        .0
    };
    let (left, right) = (tile(0), tile(1));
    assert_eq!(left.dimensions(), half);
    let (y0, y1) = (80, 470);
    // Left of the seam: the whole's x 300..640 is the left tile's 300..640.
    let l = mismatch(&whole, (300, y0), &left, (300, y0), (W / 2 - 300, y1 - y0));
    // Right of it: the whole's 640..950 is the right tile's 0..310.
    let r = mismatch(&whole, (W / 2, y0), &right, (0, y0), (310, y1 - y0));
    // At the seam itself, 16 columns either side.
    let seam_l = mismatch(
        &whole,
        (W / 2 - 16, y0),
        &left,
        (W / 2 - 16, y0),
        (16, y1 - y0),
    );
    let seam_r = mismatch(&whole, (W / 2, y0), &right, (0, y0), (16, y1 - y0));
    for (what, share) in [
        ("left", l),
        ("right", r),
        ("seam left", seam_l),
        ("seam right", seam_r),
    ] {
        assert!(
            share < 0.03,
            "{what}: {:.2}% of the pixels differ from the whole view",
            share * 100.0
        );
    }
    // The view is not empty: there is a city to compare.
    let city = share(&whole, 300, y0, W - 330, y1, building);
    assert!(city > 0.05, "buildings cover only {:.1}%", city * 100.0);
}

/// With 40 px bezels, a wall of two screens in one window (a camera per screen) is the
/// whole canvas with the 40 columns behind the bezel taken out; and no text of the
/// header or the charts lies on the bezel.
#[test]
fn a_wall_with_bezels_hides_the_columns_behind_them_and_keeps_text_off_them() {
    let scene = district_scene();
    let bezel = 40;
    let (canvas, _) = shot_sized(&scene, "bezel-canvas", (W + bezel, H), &["--view", "erqi"]);
    let spec = format!("2x1@{}x{H},bezel={bezel}", W / 2);
    let (wall, log) = shot_sized(
        &scene,
        "bezel-wall",
        (W, H),
        &["--view", "erqi", "--wall", &spec],
    );
    assert_eq!(wall.dimensions(), (W, H));
    assert!(log.contains("one camera each"), "no split cameras:\n{log}");
    let (y0, y1) = (80, 470);
    // Left screen: canvas columns 0..640; right screen: canvas columns 680..1320.
    let l = mismatch(&canvas, (300, y0), &wall, (300, y0), (W / 2 - 300, y1 - y0));
    let r = mismatch(
        &canvas,
        (W / 2 + bezel + 10, y0),
        &wall,
        (W / 2 + 10, y0),
        (300, y1 - y0),
    );
    // Without the bezel taken out, the right screen would be 40 px off.
    let shifted = mismatch(
        &canvas,
        (W / 2 + 10, y0),
        &wall,
        (W / 2 + 10, y0),
        (300, y1 - y0),
    );
    assert!(
        l < 0.03 && r < 0.03,
        "left {:.2}%, right {:.2}% differ",
        l * 100.0,
        r * 100.0
    );
    assert!(
        shifted > 3.0 * r.max(0.01),
        "the bezel's columns were not hidden ({:.2}%)",
        shifted * 100.0
    );
    // The header, the charts, the replay's timeline and the status bar keep their
    // text off the bezel (x 640 ± 4). (The header is about 38 px tall, the charts
    // strip about 170 px, the timeline about 36 px and the status bar 20 px at this
    // wall's scale.)
    for (what, y0, y1) in [
        ("header", 0, 32),
        ("charts", H - 220, H - 70),
        ("timeline and status bar", H - 64, H - 2),
    ] {
        let text = share(&wall, W / 2 - 4, y0, W / 2 + 4, y1, |[r, g, b]| {
            r as u32 + g as u32 + b as u32 > 380
        });
        assert!(
            text < 0.002,
            "{what}: text on the bezel ({:.2}%)",
            text * 100.0
        );
        let beside = share(&wall, 0, y0, W, y1, |[r, g, b]| {
            r as u32 + g as u32 + b as u32 > 380
        });
        assert!(
            beside > 0.003,
            "{what}: no text at all ({:.2}%)",
            beside * 100.0
        );
    }
}

/// A leader and a follower on a real mosquitto: the leader flies to a view and
/// selects a camera; the follower, started on the default view, shows the leader's
/// view and the camera's inspector.
#[test]
fn a_follower_shows_its_leaders_view_and_selection() {
    use citytwin::feeds::bench::broker::LocalBroker;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wall-sync");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let broker = LocalBroker::plain(&dir, "").unwrap_or_else(|e| panic!("{e}"));
    let url = format!("mqtt://127.0.0.1:{}/citytwin/wall/test", broker.port);
    let scene = district_scene();
    let camera = first_camera_of(&scene);
    // The reference: the same view and selection shot directly.
    let (reference, _) = shot_sized(
        &scene,
        "sync-reference",
        (W, H),
        &["--view", "cbd", "--select", &camera],
    );
    let log_path = dir.join("leader.log");
    let log = std::fs::File::create(&log_path).expect("log");
    let mut leader = {
        use std::os::unix::process::CommandExt;
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let child = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1920x1080x24"])
            .arg(env!("CARGO_BIN_EXE_citytwin"))
            .args(["wall", "--size", &format!("{W}x{H}"), "--scene"])
            .arg(&scene)
            .args(["--view", "cbd", "--select", &camera, "--lead", &url])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("WGPU_BACKEND", "vulkan")
            .stderr(log)
            // Its own process group: xvfb-run, Xvfb and the wall end together.
            .process_group(0)
            .spawn()
            .expect("leader starts");
        Leader(child)
    };
    // The leader has selected the camera and said so on the broker.
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains(&format!("selected {camera}")) && text.contains("wall sync: connected") {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(240),
            "the leader never selected {camera}:\n{text}"
        );
        assert!(
            leader.0.try_wait().expect("leader").is_none(),
            "the leader exited:\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let (follower, log) = shot_sized(&scene, "sync-follower", (W, H), &["--follow", &url]);
    drop(leader);
    assert!(
        log.contains(&format!("wall sync: selection from the leader: {camera}")),
        "the follower did not take the selection:\n{log}"
    );
    // The map between the panels is the leader's view.
    let differs = mismatch(&reference, (300, 80), &follower, (300, 80), (W - 640, 400));
    assert!(
        differs < 0.05,
        "{:.1}% of the follower's map differs from the leader's view",
        differs * 100.0
    );
    // The inspector shows the selected camera, as on the leader.
    assert_panel(
        &follower,
        "the follower's inspector",
        (W - 300, 90, W - 10, 300),
    );
}

/// A process group (xvfb-run, Xvfb and the wall it runs), ended when dropped: also
/// when the test fails.
struct Leader(std::process::Child);

impl Drop for Leader {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

/// The id of the first work order with a place in the generated district's feed.
fn first_placed_order_of(scene: &std::path::Path) -> String {
    let text = std::fs::read_to_string(scene.with_file_name("feed.ndjson")).expect("feed");
    text.lines()
        .filter(|l| l.contains(r#""kind":"work_order""#))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["data"]["position"].is_object())
        .and_then(|v| v["data"]["id"].as_str().map(str::to_string))
        .expect("a work order with a position")
}

/// A `key=value` figure of the shot's overlays line.
fn overlay_figure(log: &str, key: &str) -> String {
    let line = log
        .lines()
        .rfind(|l| l.contains("shot: overlays"))
        .unwrap_or_else(|| panic!("no overlays line:\n{log}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        .to_string()
}

#[test]
fn a_selected_order_shows_its_pin_and_cameras_on_the_map_among_the_overlays() {
    // `--select` a work order: the camera flies to it, the inspector shows it, and the
    // map its pin (magenta when selected) with lines and view fans to its linked cameras,
    // over the other overlays (grids by open orders, traffic, parking, vehicles).
    let id = first_placed_order_of(&district_scene());
    let (img, log) = shot("order-overlays", &["--select", &id]);
    assert!(log.contains(&format!("selected work order {id}")), "{log}");
    let n = |key: &str| -> usize {
        overlay_figure(&log, key)
            .split('/')
            .map(|v| v.parse::<usize>().expect("a count"))
            .sum()
    };
    for key in [
        "grids",
        "pins",
        "links",
        "traffic",
        "free_parking",
        "vehicles",
    ] {
        assert!(n(key) > 0, "no {key} drawn: {log}");
    }
    assert_eq!(n("routes"), 2, "the district's two tour-bus routes");
    // The selected pin, magenta, stands in the middle of the map (between the KPI
    // panel and the inspector, at 0.75 scale on a 720-line window).
    let (cx, cy) = ((270 + 965) / 2, (50 + 695) / 2);
    let magenta = share(&img, cx - 60, cy - 140, cx + 60, cy + 40, |[r, g, b]| {
        r > 150 && b > 120 && g < 110
    });
    assert!(magenta > 0.01, "no selected pin ({:.2}%)", magenta * 100.0);
    // The inspector shows the order: dark glass with text at the top right.
    assert_panel(&img, "the order's inspector", (975, 55, 1270, 230));
}

/// The id of a camera in the generated district's feed.
fn first_camera_of(scene: &std::path::Path) -> String {
    let dir = scene.parent().expect("scene folder");
    for entry in std::fs::read_dir(dir).expect("folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            let text = std::fs::read_to_string(&path).expect("feed");
            for line in text.lines().filter(|l| l.contains(r#""kind":"camera""#)) {
                let v: serde_json::Value = serde_json::from_str(line).expect("json");
                if let Some(id) = v["data"]["id"].as_str() {
                    return id.to_string();
                }
            }
        }
    }
    panic!("no camera in the district's feeds");
}

#[test]
fn clicking_a_building_opens_the_inspector() {
    // The "beisanjie" view looks at the middle of 北三街's slab rows; click a slab.
    let (img, log) = shot(
        "beisanjie-click",
        &[
            "--view",
            "beisanjie",
            "--click",
            &format!("{},{}", W / 2, H / 2),
        ],
    );
    assert!(
        log.contains("selected building ZZ-B"),
        "no building picked:\n{log}"
    );
    assert_buildings_at_centre(&img, "beisanjie", 0.15);
    // The inspector: a dark panel on the right with text in it.
    let (x0, x1) = (W - 255, W - 10);
    let dark = share(&img, x0, 90, x1, 400, |[r, g, b]| {
        r < 40 && g < 50 && b < 70
    });
    assert!(dark > 0.8, "no inspector panel ({:.1}% dark)", dark * 100.0);
    let text = share(&img, x0, 90, x1, 400, |[r, g, b]| {
        r as u32 + g as u32 + b as u32 > 400
    });
    assert!(
        text > 0.01,
        "inspector shows no text ({:.2}%)",
        text * 100.0
    );
}

/// Serves one file over HTTP/1.1 on a free loopback port, to every request.
fn serve_file(body: Vec<u8>, content_type: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    port
}

#[test]
fn a_selected_camera_shows_its_snapshot_in_the_inspector() {
    let jpeg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/camera-red-blue.jpg"
    ))
    .expect("fixture");
    let port = serve_file(jpeg, "image/jpeg");
    let feed = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("snapshot-feed.ndjson");
    std::fs::write(
        &feed,
        format!(
            r#"{{"v":1,"ts":"2026-11-23T08:00:00+08:00","kind":"camera","data":{{"id":"CAM-SNAP","name":"二七广场 东北角","position":{{"lon":113.6488,"lat":34.7406}},"heading_deg":45.0,"status":"online","snapshot_url":"http://127.0.0.1:{port}/cam.jpg"}}}}"#
        ),
    )
    .expect("write feed");
    let spec = format!("replay:{}@max", feed.display());
    let (img, log) = shot_of(
        &district_scene_with_local_snapshots(),
        "snapshot",
        &["--feeds", &spec, "--select", "CAM-SNAP"],
    );
    assert!(log.contains("selected CAM-SNAP"), "not selected:\n{log}");
    // The picture (red left half, blue right half) fills the inspector's width.
    let (x0, y0, x1, y1) = (W - 250, 150, W - 10, 450);
    let red = share(&img, x0, y0, x1, y1, |[r, g, b]| {
        r > 180 && g < 80 && b < 80
    });
    let blue = share(&img, x0, y0, x1, y1, |[r, g, b]| {
        b > 180 && r < 80 && g < 110
    });
    assert!(
        red > 0.08 && blue > 0.08,
        "snapshot not shown: {:.1}% red, {:.1}% blue",
        red * 100.0,
        blue * 100.0
    );
}

#[test]
fn the_cbd_view_shows_the_corn_tower_in_its_lake_ringed_by_towers() {
    let (img, _) = shot("cbd", &["--view", "cbd"]);
    // The tower: a warm beige shaft with gold bands, standing at the centre.
    let warm = |[r, g, b]: [u8; 3]| r > 100 && g > 95 && (r as i32 - b as i32) > 12;
    let tower = share(&img, W / 2 - 8, 265, W / 2 + 8, 355, warm);
    assert!(
        tower > 0.4,
        "no tower at the centre ({:.1}%)",
        tower * 100.0
    );
    // The CBD's rings of office towers stand around it.
    // (Left of the alerts' column.)
    let towers = share(&img, 300, 200, W - 330, 500, building);
    assert!(
        towers > 0.08,
        "no towers around the corn ({:.1}%)",
        towers * 100.0
    );
    // Between the corn and the towers: the ring of the central lake, dark navy
    // (darker and bluer than the ground, greener than the shade of a wall).
    let water = |[r, g, b]: [u8; 3]| {
        r < 35 && g as i32 - r as i32 > 15 && b as i32 - g as i32 > 20 && b < 110
    };
    let lake = share(&img, W / 2 - 120, 330, W / 2 + 120, 400, water);
    assert!(lake > 0.2, "no lake around the corn ({:.1}%)", lake * 100.0);
}

#[test]
fn the_erqi_view_shows_the_old_centre_around_the_tower() {
    let (img, _) = shot("erqi", &["--view", "erqi"]);
    // The square keeps the middle open; the blocks around it are built up.
    let around = share(&img, 300, 80, W - 10, H - 40, building);
    assert!(around > 0.1, "buildings cover only {:.1}%", around * 100.0);
    // Close in, the devices near the view are drawn one by one (green markers), not
    // as cluster columns.
    let markers = share(&img, 300, 80, W - 10, H - 40, marker_green);
    assert!(
        markers > 0.003,
        "no device markers near the view ({:.2}%)",
        markers * 100.0
    );
    // 二七塔 itself: white walls and green eaves at the centre.
    let tower = share(
        &img,
        W / 2 - 40,
        H / 2 - 120,
        W / 2 + 40,
        H / 2 + 20,
        |[r, g, b]| r > 150 && g > 150 && b > 120,
    );
    assert!(
        tower > 0.05,
        "no 二七塔 at the centre ({:.1}%)",
        tower * 100.0
    );
}

#[test]
fn the_swipe_view_shows_one_proposal_left_of_the_line_and_the_other_right_of_it() {
    // 北三街: proposal B (two slabs of the west column give way to a day-care centre)
    // left of the line at 60 % of the width, proposal A (an elevator on every slab)
    // right of it; the ground coloured by hours of sun, the windows marked, and the
    // shadows of 9:00 on both.
    let (img, log) = shot(
        "plan-swipe",
        &[
            "--project",
            "RP-2026-001",
            "--scenario",
            "1",
            "--compare",
            "2",
            "--mode",
            "swipe",
            "--swipe",
            "0.6",
            "--sun-time",
            "9:00",
            "--measure",
            "distance",
            "--click",
            "470,600",
            "--click",
            "720,600",
        ],
    );
    // Measured by two clicks on the left view: the geodesic distance between the
    // points the clicks' rays met, as long as the straight line between them in the
    // scene's local metres (a few hundred metres from the origin: the same to 0.5 m).
    let line = log
        .lines()
        .rfind(|l| l.contains("measure: Distance"))
        .unwrap_or_else(|| panic!("nothing measured:\n{log}"));
    let after = &line[line.find("measure: Distance").unwrap() + "measure: Distance".len()..];
    let metres: f64 = after
        .trim()
        .split(' ')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("no distance in {line}"));
    let points: Vec<Vec<f64>> = after
        .split('(')
        .skip(1)
        .map(|p| {
            p.split(')')
                .next()
                .unwrap()
                .split(", ")
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(points.len(), 2, "{line}");
    let straight = ((points[1][0] - points[0][0]).powi(2)
        + (points[1][1] - points[0][1]).powi(2)
        + (points[1][2] - points[0][2]).powi(2))
    .sqrt();
    assert!(
        metres > 100.0 && (metres - straight).abs() < 0.5,
        "measured {metres} m, the points {straight:.2} m apart: {line}"
    );
    assert!(log.contains("plan: drawing"), "{log}");
    // Each side's shadows, with the sun in the south-east.
    for name in ["方案A", "方案B"] {
        assert!(
            log.contains(&format!(
                "plan: shadows at 9:00 true solar time (sun at azimuth 135°, elevation 20°) on {name}"
            )),
            "{log}"
        );
    }
    let line_x = (W as f32 * 0.6) as u32;
    // The swipe line: a white column the height of the view.
    let white = |[r, g, b]: [u8; 3]| r > 230 && g > 230 && b > 230;
    let line = (line_x - 3..line_x + 3)
        .map(|x| share(&img, x, 20, x + 1, H - 20, white))
        .fold(0.0, f64::max);
    assert!(line > 0.8, "no swipe line ({:.0}%)", line * 100.0);
    // The planner's panel on the left: light text on the dark panel.
    let text = share(&img, 0, 0, 300, H, |[r, g, b]| {
        r > 150 && g > 150 && b > 150
    });
    assert!(text > 0.01, "no panel text ({:.1}%)", text * 100.0);
    // The day-care centre's brown walls (darker and far less blue than the sunlit
    // ground's oranges): left of the line only, where B is shown.
    let brown = |[r, g, b]: [u8; 3]| {
        r > 100 && b < 65 && r as i32 - g as i32 > 30 && g as i32 - b as i32 > 20
    };
    let left_brown = share(&img, 330, 250, line_x - 4, 470, brown);
    assert!(
        left_brown > 0.0005,
        "no day-care centre ({:.3}%)",
        left_brown * 100.0
    );
    // The elevator shafts, violet on the slabs' north sides: right of the line only,
    // where A is shown.
    let violet =
        |[r, g, b]: [u8; 3]| r > 60 && b as i32 - r as i32 > 60 && b as i32 - g as i32 > 80;
    let right_violet = share(&img, line_x + 4, 0, W, H, violet);
    let left_violet = share(&img, 330, 0, line_x - 4, H, violet);
    assert!(
        right_violet > 0.0002 && left_violet < right_violet / 10.0,
        "elevators: {:.3}% right of the line, {:.3}% left",
        right_violet * 100.0,
        left_violet * 100.0
    );
    // The sunny ground between the rows: pale yellow after tone mapping.
    let sunny = share(&img, 330, 150, W, 650, |[r, g, b]| {
        r > 160 && g > 120 && r as i32 - b as i32 > 25
    });
    assert!(sunny > 0.2, "no sunlit ground ({:.1}%)", sunny * 100.0);
    // The shadows: dark grey over the site on both sides of the line (walls and roads
    // make about 16 % left and 20 % right without them, 28 % and 30 % with them).
    let shade = |[r, g, b]: [u8; 3]| {
        let (hi, lo) = (r.max(g).max(b), r.min(g).min(b));
        hi < 120 && hi - lo < 45 && b as i32 >= r as i32 - 5
    };
    let (left_shade, right_shade) = (
        share(&img, 420, 170, line_x - 4, 650, shade),
        share(&img, line_x + 4, 170, 1180, 650, shade),
    );
    assert!(
        left_shade > 0.23 && right_shade > 0.25,
        "shadows: {:.1}% left, {:.1}% right",
        left_shade * 100.0,
        right_shade * 100.0
    );
    // Windows that meet the standard: bright green marks on the façades.
    let windows = share(&img, 330, 150, W, 650, |[r, g, b]| {
        g > 140 && g as i32 - r as i32 > 60 && g as i32 - b as i32 > 30
    });
    assert!(windows > 0.005, "no window marks ({:.2}%)", windows * 100.0);
}

#[test]
fn the_review_report_carries_shots_of_today_and_the_proposal() {
    // 陇海路 (二期): one proposal, so two views; `plan` takes them under Xvfb itself.
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plan-report-road");
    let _ = std::fs::remove_dir_all(&dir);
    let result = Command::new(env!("CARGO_BIN_EXE_citytwin"))
        .args(["plan", "--project", "RP-2026-002", "--shots", "--report"])
        .arg(&dir)
        .arg("--scene")
        .arg(district_scene())
        .env_remove("DISPLAY")
        .env("WGPU_BACKEND", "vulkan")
        .output()
        .expect("citytwin runs");
    let printed = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success() && !printed.contains("shots:"),
        "{printed}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    for k in 0..2 {
        assert!(html.contains(&format!("src=\"view-{k}.png\"")), "{html}");
        let img = image::open(dir.join(format!("view-{k}.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!((img.width(), img.height()), (1600, 900));
        let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 500, "view {k}: {} colours", colours.len());
    }
}
