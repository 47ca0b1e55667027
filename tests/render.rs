//! Render test: `citytwin shot` opens a real window under Xvfb with Mesa's software
//! Vulkan (lavapipe), and the PNG it writes shows the city, the markers and the panels.

use std::path::PathBuf;
use std::process::Command;

const W: u32 = 1280;
const H: u32 = 720;

/// `xvfb-run -a` can pick the same display twice when started at the same moment,
/// and two software renderers on 2 cores slow each other: one shot at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `citytwin shot` under Xvfb; returns the picture and what the app logged.
fn shot(view: Option<&str>, click: Option<(u32, u32)>) -> (image::RgbImage, String) {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("shot-{}.png", view.unwrap_or("default")));
    let _ = std::fs::remove_file(&out);
    let size = format!("{W}x{H}");
    let mut cmd = Command::new("xvfb-run");
    cmd.args(["-a", "-s", "-screen 0 1920x1080x24"])
        .arg(env!("CARGO_BIN_EXE_citytwin"))
        .args(["shot", "--size", &size, "--out"])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        // Software Vulkan when there is no GPU; a real one is used where present.
        .env("WGPU_BACKEND", "vulkan");
    if let Some(v) = view {
        cmd.args(["--view", v]);
    }
    if let Some((x, y)) = click {
        cmd.args(["--click", &format!("{x},{y}")]);
    }
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

#[test]
fn wall_screenshot_shows_city_markers_and_panels() {
    let (img, _) = shot(None, None);
    assert_eq!(img.dimensions(), (W, H));
    // The 3D viewport (right of the KPI panel, between header and status bar).
    let (vx0, vy0, vx1, vy1) = (300, 80, W - 10, H - 40);
    let lit = share(&img, vx0, vy0, vx1, vy1, |[r, g, b]| {
        r as u32 + g as u32 + b as u32 > 150
    });
    assert!(
        lit > 0.3,
        "only {:.1}% of the viewport shows lit geometry",
        lit * 100.0
    );
    let buildings = share(&img, vx0, vy0, vx1, vy1, |[r, _, b]| {
        b > r && b > 70 && (b as i32 - r as i32) > 15
    });
    assert!(
        buildings > 0.2,
        "blue-grey buildings cover only {:.2}%",
        buildings * 100.0
    );
    let markers = share(&img, vx0, vy0, vx1, vy1, |[r, g, b]| {
        g > 180 && r < 120 && b < 180
    });
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

#[test]
fn clicking_a_building_opens_the_inspector() {
    // In the "erqi" view a tall office tower stands right of the square.
    let (img, log) = shot(Some("erqi"), Some((967, 440)));
    assert!(
        log.contains("selected building EQ-B"),
        "no building picked:\n{log}"
    );
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
