//! The wall as it is built: how many screens across and down, their pixels, the
//! bezel between two screens, and how far away the operators sit. The 3D view is laid
//! out over a virtual canvas that includes the bezels (their pixels are hidden behind
//! them, as a window's frame would hide what is behind it), so a line crossing from
//! one screen to the next stays straight; panels are kept off the bezels.

use serde::{Deserialize, Serialize};

/// A wall of identical screens in a grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WallSpec {
    pub cols: u32,
    pub rows: u32,
    /// One screen's pixels.
    pub screen_px: (u32, u32),
    /// The bezel between two neighbouring screens, in pixels of the screens' pitch
    /// (both screens' frames together): what the 3D view hides behind it.
    #[serde(default)]
    pub bezel_px: u32,
    /// How far the operators sit from the wall, metres (the panels' scale).
    #[serde(default = "default_distance")]
    pub viewing_distance_m: f32,
}

fn default_distance() -> f32 {
    4.0
}

/// A screen of the wall: where it is in the window and in the virtual canvas.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Screen {
    pub col: u32,
    pub row: u32,
    /// Top-left corner in the window, pixels.
    pub window_at: (u32, u32),
    /// Top-left corner in the canvas that includes the bezels, pixels.
    pub canvas_at: (u32, u32),
    pub size: (u32, u32),
}

impl WallSpec {
    /// One screen of `w`×`h`, no bezels.
    pub fn single(w: u32, h: u32) -> Self {
        Self {
            cols: 1,
            rows: 1,
            screen_px: (w, h),
            bezel_px: 0,
            viewing_distance_m: default_distance(),
        }
    }

    /// A named wall (`laptop`, `4k`, `4x2`, `3x3`) or `COLSxROWS@WxH`, each optionally
    /// followed by `,bezel=PX` and `,distance=M`: e.g. `4x2@1920x1080,bezel=18`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split(',');
        let head = parts.next().unwrap_or_default().trim();
        let mut wall = match head {
            "laptop" => Self::single(1280, 720),
            "4k" => Self::single(3840, 2160),
            "4x2" => Self {
                bezel_px: 18,
                viewing_distance_m: 8.0,
                ..Self::grid(4, 2, 1920, 1080)
            },
            "3x3" => Self {
                bezel_px: 18,
                viewing_distance_m: 8.0,
                ..Self::grid(3, 3, 1920, 1080)
            },
            other => {
                let (grid, px) = other.split_once('@').ok_or_else(|| {
                    format!("wall '{text}': expected laptop, 4k, 4x2, 3x3 or COLSxROWS@WxH")
                })?;
                let (cols, rows) = pair(grid, 'x', "screens")?;
                let (w, h) = pair(px, 'x', "pixels")?;
                Self::grid(cols, rows, w, h)
            }
        };
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("wall '{text}': '{part}' is not key=value"))?;
            match key.trim() {
                "bezel" => {
                    wall.bezel_px = value
                        .trim()
                        .parse()
                        .map_err(|_| format!("wall '{text}': bezel '{value}' is not pixels"))?
                }
                "distance" => {
                    wall.viewing_distance_m = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|d: &f32| *d > 0.0 && d.is_finite())
                        .ok_or_else(|| format!("wall '{text}': distance '{value}' is not metres"))?
                }
                other => return Err(format!("wall '{text}': unknown setting '{other}'")),
            }
        }
        if wall.cols == 0 || wall.rows == 0 || wall.screen_px.0 < 320 || wall.screen_px.1 < 240 {
            return Err(format!("wall '{text}': too small"));
        }
        Ok(wall)
    }

    fn grid(cols: u32, rows: u32, w: u32, h: u32) -> Self {
        Self {
            cols,
            rows,
            ..Self::single(w, h)
        }
    }

    /// The window over the whole wall, pixels (bezels have none).
    pub fn window_px(&self) -> (u32, u32) {
        (self.cols * self.screen_px.0, self.rows * self.screen_px.1)
    }

    /// The canvas the 3D view is laid out on: the screens and the bezels between them.
    pub fn canvas_px(&self) -> (u32, u32) {
        let (w, h) = self.window_px();
        (
            w + (self.cols - 1) * self.bezel_px,
            h + (self.rows - 1) * self.bezel_px,
        )
    }

    /// Every screen, row by row.
    pub fn screens(&self) -> Vec<Screen> {
        let (w, h) = self.screen_px;
        (0..self.rows)
            .flat_map(|row| {
                (0..self.cols).map(move |col| Screen {
                    col,
                    row,
                    window_at: (col * w, row * h),
                    canvas_at: (col * (w + self.bezel_px), row * (h + self.bezel_px)),
                    size: (w, h),
                })
            })
            .collect()
    }

    /// The screen a window position falls on.
    pub fn screen_at(&self, x: f32, y: f32) -> Option<Screen> {
        let (w, h) = self.screen_px;
        let (col, row) = ((x / w as f32).floor(), (y / h as f32).floor());
        if col < 0.0 || row < 0.0 || col >= self.cols as f32 || row >= self.rows as f32 {
            return None;
        }
        self.screens()
            .into_iter()
            .find(|s| s.col == col as u32 && s.row == row as u32)
    }

    /// The panels' scale: a 1080-line screen is 1, more lines per screen scale up, and
    /// operators sitting further than 4 m away get larger panels (up to 1.5×), so text
    /// keeps about the angular size it has at 4 m.
    pub fn ui_zoom(&self) -> f32 {
        let lines = self.screen_px.1 as f32 / 1080.0;
        let distance = (self.viewing_distance_m / 4.0).clamp(1.0, 1.5);
        (lines * distance).clamp(0.6, 4.0)
    }
}

/// Two whole numbers `A{sep}B` (e.g. `4x2`, `1,0`); errors name `what`.
pub fn pair(text: &str, sep: char, what: &str) -> Result<(u32, u32), String> {
    let (a, b) = text
        .split_once(sep)
        .ok_or_else(|| format!("{what} '{text}': expected A{sep}B"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("{what} '{text}': '{s}' is not a whole number"))
    };
    Ok((parse(a)?, parse(b)?))
}
