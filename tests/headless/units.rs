//! Unit tests of single functions and types, moved here from the library so that
//! `cargo test` does not build the library a second time as a test harness.

mod city_mesh {
    use bevy::math::Vec3;
    use citytwin::city::mesh::*;
    use geo::polygon;

    #[test]
    fn box_extrusion_has_outward_normals_and_up_roof() {
        let square =
            polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
        let mut m = MeshData::default();
        extrude(&square, 0.0, 20.0, [1.0; 4], [1.0; 4], &mut m);
        // 4 walls × 2 triangles + a roof of 2.
        assert_eq!(m.triangle_count(), 10);
        let centre = Vec3::new(5.0, 10.0, -5.0);
        for tri in m.indices.chunks(3) {
            let v: Vec<Vec3> = tri
                .iter()
                .map(|&i| Vec3::from(m.positions[i as usize]))
                .collect();
            let face = (v[1] - v[0]).cross(v[2] - v[0]).normalize();
            let stored = Vec3::from(m.normals[tri[0] as usize]);
            assert!(face.dot(stored) > 0.99, "winding disagrees with normal");
            let mid = (v[0] + v[1] + v[2]) / 3.0;
            assert!((mid - centre).dot(stored) > 0.0, "normal points inwards");
        }
    }
}

mod city_night {
    use citytwin::city::night::*;

    #[test]
    fn windows_texture_has_a_dark_corner_some_lit_bays_and_every_mip() {
        let image = window_texture();
        let side = (CELLS * CELL_PX) as usize;
        let data = image.data.as_ref().unwrap();
        // 128² + 64² + … + 1² pixels of 4 bytes.
        let pixels: usize = (0..=7).map(|k| (side >> k) * (side >> k)).sum();
        assert_eq!(data.len(), pixels * 4);
        assert_eq!(image.texture_descriptor.mip_level_count, 8);
        let bay = |cx: usize, cy: usize| {
            let i = ((cy * CELL_PX as usize + 4) * side + cx * CELL_PX as usize + 4) * 4;
            data[i] as u32 + data[i + 1] as u32 + data[i + 2] as u32
        };
        assert_eq!(bay(0, 0), 0, "flat surfaces sample a dark bay");
        let lit = (0..CELLS as usize)
            .flat_map(|y| (0..CELLS as usize).map(move |x| (x, y)))
            .filter(|&(x, y)| bay(x, y) > 0)
            .count();
        let share = lit as f64 / (CELLS * CELLS) as f64;
        assert!((0.2..0.45).contains(&share), "{share}");
    }
}

mod city_import {
    use citytwin::city::import::*;

    #[test]
    fn non_finite_literals_outside_strings_are_quoted() {
        let (out, n) = replace_non_finite_literals(r#"{"a":[NaN,-Infinity],"b":"NaN é"}"#);
        assert_eq!(out, r#"{"a":["NaN","-Infinity"],"b":"NaN é"}"#);
        assert_eq!(n, 2);
    }
}

mod scene {
    use citytwin::scene::*;
    use std::path::Path;

    #[test]
    fn misspelled_field_reports_line_and_column() {
        let text = "(\n  name: \"x\",\n  origin: (lon: 113.6, lat: 34.7),\n  layrs: [],\n)";
        let err = Scene::parse(text, Path::new("t.ron")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("t.ron:4:"), "{msg}");
        assert!(msg.contains("layrs"), "{msg}");
    }
}

mod feeds_snapshot {
    use citytwin::feeds::snapshot::*;

    #[test]
    fn garbage_is_neither_jpeg_nor_png() {
        let e = decode(b"<html>not found</html>").unwrap_err();
        assert!(e.starts_with("neither JPEG nor PNG"), "{e}");
        let e = decode(b"\xFF\xD8\xFF\xE0truncated").unwrap_err();
        assert!(e.starts_with("bad JPEG"), "{e}");
    }
}

mod feeds {
    use citytwin::feeds::*;
    use std::path::Path;

    #[test]
    fn replay_specs_parse() {
        let base = Path::new("/scenes");
        assert_eq!(
            FeedSpec::parse("replay:../feeds/a.ndjson@4x,loop", base),
            Ok(FeedSpec::Replay {
                paths: vec!["/scenes/../feeds/a.ndjson".into()],
                speed: Some(4.0),
                looping: true
            })
        );
        assert_eq!(
            FeedSpec::parse("replay:/tmp/a.ndjson@max", base),
            Ok(FeedSpec::Replay {
                paths: vec!["/tmp/a.ndjson".into()],
                speed: None,
                looping: false
            })
        );
        assert_eq!(
            FeedSpec::parse("replay:day.ndjson+journal.ndjson@60", base),
            Ok(FeedSpec::Replay {
                paths: vec!["/scenes/day.ndjson".into(), "/scenes/journal.ndjson".into()],
                speed: Some(60.0),
                looping: false
            })
        );
        assert!(matches!(
            FeedSpec::parse("replay:day.ndjson+@60", base),
            Err(SpecError::EmptyPath(_))
        ));
        assert!(matches!(
            FeedSpec::parse("replay:a@-2", base),
            Err(SpecError::Speed { .. })
        ));
        assert!(matches!(
            FeedSpec::parse("kafka://x", base),
            Err(SpecError::Scheme(_))
        ));
        assert!(matches!(
            FeedSpec::parse("mqtt://x", base),
            Err(SpecError::Mqtt { .. })
        ));
        assert!(matches!(
            FeedSpec::parse("mqtt://h:1883/city/#", base),
            Ok(FeedSpec::Mqtt(_))
        ));
    }
}

mod feeds_http {
    use citytwin::feeds::http::*;
    use std::time::Duration;

    #[test]
    fn specs_parse() {
        let s = HttpSpec::parse("http://h:8080/orders.json#every=250ms&timeout=2s").unwrap();
        assert_eq!(s.url, "http://h:8080/orders.json");
        assert_eq!(
            (s.every, s.timeout),
            (Duration::from_millis(250), Duration::from_secs(2))
        );
        assert!(HttpSpec::parse("http://h/x#every=soon").is_err());
        assert!(HttpSpec::parse("https://h/x").is_ok());
    }
}

mod feeds_schema {
    use chrono::DateTime;
    use citytwin::feeds::schema::*;

    const DEVICE: &str = r#"{"v":1,"ts":"2026-11-23T08:00:00+08:00","kind":"device","data":{"id":"gas-1","kind":"gas_detector","position":{"lon":113.66,"lat":34.75},"status":"alarm","readings":[{"name":"CH4","value":12.5,"unit":"%LEL"}]}}"#;

    #[test]
    fn quick_timestamps_agree_with_chrono() {
        for text in [
            "2026-11-23T08:00:00+08:00",
            "2026-11-23T08:00:00.5+08:00",
            "2026-11-23T08:00:00.123456789-05:30",
            "2026-02-28T23:59:59Z",
            "2024-02-29T00:00:00.000+00:00",
            "1999-12-31T23:59:59.999999999+14:00",
        ] {
            let quick = quick_rfc3339(text.as_bytes()).expect(text);
            let chrono = DateTime::parse_from_rfc3339(text).unwrap();
            assert_eq!(quick, chrono, "{text}");
            assert_eq!(quick.offset(), chrono.offset(), "{text}");
        }
        // Not the usual shape: left to chrono, which accepts or refuses them.
        for text in [
            "2026-11-23t08:00:00Z",
            "2026-11-23 08:00:00Z",
            "2016-12-31T23:59:60Z",
            "2026-11-23T08:00:00.+08:00",
            "2026-11-23T08:00:00.1234567891+08:00",
        ] {
            assert_eq!(quick_rfc3339(text.as_bytes()), None, "{text}");
            assert_eq!(
                parse_rfc3339(text).ok(),
                DateTime::parse_from_rfc3339(text).ok(),
                "{text}"
            );
        }
        for bad in [
            "2026-02-30T08:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T08:00:00+0800",
            "2026-11-23T08:00:00",
            "2026-11-23T08:00:00Zjunk",
        ] {
            assert_eq!(quick_rfc3339(bad.as_bytes()), None, "{bad}");
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn device_round_trips() {
        let m = FeedMessage::decode(DEVICE).unwrap();
        let FeedBody::Device(d) = &m.body else {
            panic!("not a device")
        };
        assert_eq!(d.status, DeviceStatus::Alarm);
        assert_eq!(FeedMessage::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn rejections_have_reasons() {
        let bad_version = DEVICE.replace("\"v\":1", "\"v\":7");
        assert_eq!(
            FeedMessage::decode(&bad_version),
            Err(DecodeError::Version(7))
        );
        let unknown = DEVICE.replace("\"kind\":\"device\"", "\"kind\":\"drone\"");
        assert!(
            matches!(FeedMessage::decode(&unknown), Err(DecodeError::UnknownKind(k)) if k == "drone")
        );
        let far = DEVICE.replace("34.75", "134.75");
        assert!(matches!(
            FeedMessage::decode(&far),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(
            FeedMessage::decode("{not json"),
            Err(DecodeError::Envelope(_))
        ));
        let extra = DEVICE.replace("\"status\"", "\"colour\":1,\"status\"");
        assert!(matches!(
            FeedMessage::decode(&extra),
            Err(DecodeError::Data { .. })
        ));
    }
}

mod feeds_mqtt {
    use citytwin::feeds::mqtt::*;

    #[test]
    fn specs_parse() {
        let s = MqttSpec::parse("ops@broker.local:1883/city/+/events").unwrap();
        assert_eq!(s.user.as_deref(), Some("ops"));
        assert_eq!(
            (s.host.as_str(), s.port, s.topic.as_str()),
            ("broker.local", 1883, "city/+/events")
        );
        assert!(MqttSpec::parse("broker:1883").is_err());
        assert!(MqttSpec::parse("broker:x/t").is_err());
        let again = MqttSpec::parse("ops@broker.local:1883/city/+/events").unwrap();
        assert_eq!(s.client_id("wall0"), again.client_id("wall0"), "stable");
        assert_ne!(s.client_id("wall0"), s.client_id("wall1"), "per instance");
        let p = MqttSpec::parse("ops:s3cret@broker.local:1883/city/#").unwrap();
        assert_eq!(p.user.as_deref(), Some("ops"));
        assert_eq!(p.password.as_ref().map(|p| p.expose()), Some("s3cret"));
        assert!(!format!("{p:?}").contains("s3cret"));
        assert!(!p.shown().contains("s3cret"));
        assert!(
            MqttSpec::parse("broker:1883/city/#/x").is_err(),
            "# must be last"
        );
        assert!(MqttSpec::parse("broker:0/t").is_err());
    }
}

mod geo {
    use citytwin::geo::*;

    #[test]
    fn crs_names_parse() {
        assert_eq!("EPSG:4547".parse::<Crs>().unwrap(), Crs::Epsg(4547));
        assert_eq!("gcj-02".parse::<Crs>().unwrap(), Crs::Gcj02);
        assert_eq!("BD09".parse::<Crs>().unwrap(), Crs::Bd09);
        assert_eq!(
            "urn:ogc:def:crs:EPSG::3857".parse::<Crs>().unwrap(),
            Crs::Epsg(3857)
        );
        assert_eq!(
            "urn:ogc:def:crs:OGC:1.3:CRS84".parse::<Crs>().unwrap(),
            Crs::WGS84
        );
        assert!("EPSG:abc".parse::<Crs>().is_err());
    }
}

mod geo_china {
    use citytwin::geo::LonLat;
    use citytwin::geo::china::*;

    #[test]
    fn published_beijing_vector() {
        let g = wgs84_to_gcj02(LonLat::new(116.377817, 39.911954));
        assert!((g.lon - 116.38404722455657).abs() < 1e-9, "{g:?}");
        assert!((g.lat - 39.91334545536069).abs() < 1e-9, "{g:?}");
    }

    #[test]
    fn outside_china_is_identity() {
        let p = LonLat::new(2.35, 48.85);
        assert_eq!(wgs84_to_gcj02(p), p);
        assert_eq!(gcj02_to_wgs84(p), p);
    }
}

mod view_clusters {
    use citytwin::feeds::schema::DeviceStatus;
    use citytwin::view::clusters::*;

    #[test]
    fn columns_are_coloured_by_the_share_online_alarms_counting_as_up() {
        let counts = |online, alarm, fault, offline| Counts([online, alarm, fault, offline]);
        assert_eq!(counts(95, 0, 0, 5).colour(), DeviceStatus::Online, "95 %");
        assert_eq!(
            counts(85, 5, 10, 0).colour(),
            DeviceStatus::Online,
            "90 % up"
        );
        assert_eq!(counts(70, 0, 0, 30).colour(), DeviceStatus::Fault, "70 %");
        assert_eq!(
            counts(0, 1, 0, 3).colour(),
            DeviceStatus::Offline,
            "1 of 4 up"
        );
        assert_eq!(counts(0, 1, 0, 3).alarms(), 1);
        assert_eq!(counts(0, 1, 0, 3).total(), 4);
    }

    #[test]
    fn squares_appear_beyond_the_threshold_and_double_in_steps() {
        assert_eq!(cell_for(CLUSTER_FROM_M - 1.0), None);
        assert_eq!(cell_for(CLUSTER_FROM_M), Some(250.0));
        assert_eq!(cell_for(7_000.0), Some(500.0));
        assert_eq!(cell_for(14_000.0), Some(1000.0));
        assert_eq!(cell_for(12_000.0), Some(1000.0), "rounded to a step");
    }
}

mod view_markers {
    use bevy::math::{IVec2, Vec2, Vec3};
    use bevy::prelude::Entity;
    use citytwin::feeds::schema::DeviceStatus;
    use citytwin::view::clusters::Counts;
    use citytwin::view::markers::*;
    use citytwin::view::status_slot;
    use std::collections::BTreeMap;

    fn entity(n: u32) -> Entity {
        Entity::from_raw_u32(n).unwrap()
    }

    #[test]
    fn filing_keeps_counts_per_square_through_status_changes_and_moves() {
        let mut grid = MarkerGrid::default();
        let (a, b) = (IVec2::new(0, 0), IVec2::new(-1, 3));
        for n in 0..10 {
            assert!(grid.file(entity(n), a, DeviceStatus::Online));
        }
        assert!(
            !grid.file(entity(0), a, DeviceStatus::Online),
            "nothing new"
        );
        assert!(grid.file(entity(1), a, DeviceStatus::Alarm));
        assert!(grid.file(entity(2), b, DeviceStatus::Offline), "moved");
        assert_eq!(grid.len(), 10);
        let (counts, markers) = grid.square(a).expect("square a");
        assert_eq!((counts.0, markers.len()), ([8, 1, 0, 0], 9));
        let (counts, markers) = grid.square(b).expect("square b");
        assert_eq!((counts.0, markers), ([0, 0, 0, 1], &[entity(2)][..]));
    }

    #[test]
    fn merged_squares_count_what_counting_every_marker_would() {
        // Positions in metres; squares of 4 × 4 grid squares are 1 km across.
        let markers = [
            (10.0, 10.0, DeviceStatus::Online),
            (990.0, 990.0, DeviceStatus::Alarm),
            (1001.0, 5.0, DeviceStatus::Online),
            (-1.0, 5.0, DeviceStatus::Fault),
            (-999.0, -1001.0, DeviceStatus::Offline),
        ];
        let mut grid = MarkerGrid::default();
        let mut direct: BTreeMap<(i32, i32), Counts> = BTreeMap::new();
        for (n, &(x, z, s)) in markers.iter().enumerate() {
            grid.file(entity(n as u32), square_of(Vec3::new(x, 0.0, z)), s);
            let key = (
                (x / 1000.0f32).floor() as i32,
                (z / 1000.0f32).floor() as i32,
            );
            direct.entry(key).or_default().0[status_slot(s)] += 1;
        }
        assert_eq!(grid.merged(4), direct);
        assert_eq!(grid.merged(4)[&(0, 0)].0, [1, 1, 0, 0]);
        assert_eq!(grid.merged(4)[&(-1, -2)].0, [0, 0, 0, 1]);
    }

    #[test]
    fn squares_near_a_focus_cover_the_circle_and_no_more() {
        let near = squares_near(Vec2::new(125.0, 125.0), 300.0);
        // The centre square and its 8 neighbours (nearest points ≤ 177 m away) are in;
        // the squares two away along the axes (nearest points 375 m away) are out.
        assert!(near.contains(&IVec2::new(0, 0)));
        assert!(near.contains(&IVec2::new(1, 1)));
        assert!(near.contains(&IVec2::new(-1, -1)));
        assert!(!near.contains(&IVec2::new(2, 0)));
        assert_eq!(near.len(), 9);
    }
}

mod plan_shadow {
    use citytwin::plan::shadow::*;
    use citytwin::plan::sun::{Block, SunStep};
    use geo::{Area, Coord};
    use geo::{Contains, MultiPolygon, Rect};

    /// The sun at `azimuth` (degrees from north, clockwise) and `elevation`.
    fn sun(azimuth: f64, elevation: f64) -> SunStep {
        let (az, el) = (azimuth.to_radians(), elevation.to_radians());
        SunStep {
            solar_minute: 720.0,
            utc: chrono::DateTime::UNIX_EPOCH,
            azimuth_deg: azimuth,
            elevation_deg: elevation,
            towards: [az.sin() * el.cos(), az.cos() * el.cos(), el.sin()],
        }
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![Rect::new((x0, y0), (x1, y1)).to_polygon()])
    }

    /// The shadow of one block.
    fn of_block(footprint: &MultiPolygon<f64>, height_m: f64, sun: &SunStep) -> MultiPolygon<f64> {
        let blocks = [Block {
            footprint,
            height_m,
        }];
        ground_shadow(&blocks, &[], sun).unwrap()
    }

    #[test]
    fn a_block_with_the_sun_due_south_shades_a_strip_north_of_it() {
        // 20 m × 10 m, 30 m tall, the sun due south at 30°: the shadow reaches
        // 30 / tan 30° = 51.96 m north of the block's north wall, as wide as the block.
        let shadow = of_block(&rect(0.0, 0.0, 20.0, 10.0), 30.0, &sun(180.0, 30.0));
        let reach = 30.0 / 30f64.to_radians().tan();
        let area = shadow.unsigned_area();
        assert!(
            (area - 20.0 * (10.0 + reach)).abs() < 1e-6,
            "area {area}, hand-calculated {}",
            20.0 * (10.0 + reach)
        );
        assert!(shadow.contains(&Coord {
            x: 10.0,
            y: 10.0 + reach - 0.1
        }));
        assert!(!shadow.contains(&Coord {
            x: 10.0,
            y: 10.0 + reach + 0.1
        }));
        assert!(!shadow.contains(&Coord { x: 10.0, y: -0.1 }));
    }

    #[test]
    fn a_block_with_the_sun_in_the_south_west_shades_a_hexagon() {
        // The sun at 45° from the south-west: the roof's shadow moves 30 m along the
        // ground towards the north-east, (21.21, 21.21); the shadow is the block swept
        // along that move, 200 + 20 × 21.21 + 10 × 21.21 m².
        let shadow = of_block(&rect(0.0, 0.0, 20.0, 10.0), 30.0, &sun(225.0, 45.0));
        let d = 30.0 * std::f64::consts::FRAC_1_SQRT_2;
        let hand = 200.0 + 20.0 * d + 10.0 * d;
        assert!((shadow.unsigned_area() - hand).abs() < 1e-6);
        // The roof's far corner lands at (20 + d, 10 + d).
        assert!(shadow.contains(&Coord {
            x: 20.0 + d - 0.1,
            y: 10.0 + d - 0.1
        }));
        assert!(!shadow.contains(&Coord {
            x: 20.0 + d + 0.1,
            y: 10.0 + d + 0.1
        }));
    }

    #[test]
    fn a_model_shades_as_much_as_the_block_of_its_shape() {
        // An elevator shaft 3 m × 3 m × 20 m as twelve triangles casts the shadow of a
        // 3 m × 3 m block 20 m tall.
        let (x0, y0, x1, y1, h) = (5.0, 5.0, 8.0, 8.0, 20.0);
        let c = |x: f64, y: f64, z: f64| [x, y, z];
        let corners = [
            c(x0, y0, 0.0),
            c(x1, y0, 0.0),
            c(x1, y1, 0.0),
            c(x0, y1, 0.0),
            c(x0, y0, h),
            c(x1, y0, h),
            c(x1, y1, h),
            c(x0, y1, h),
        ];
        let faces = [
            [0, 1, 2, 3],
            [4, 5, 6, 7],
            [0, 1, 5, 4],
            [1, 2, 6, 5],
            [2, 3, 7, 6],
            [3, 0, 4, 7],
        ];
        let triangles: Vec<[[f64; 3]; 3]> = faces
            .iter()
            .flat_map(|f| {
                [
                    [corners[f[0]], corners[f[1]], corners[f[2]]],
                    [corners[f[0]], corners[f[2]], corners[f[3]]],
                ]
            })
            .collect();
        let footprint = rect(x0, y0, x1, y1);
        for (az, el) in [(180.0, 30.0), (135.0, 20.0), (250.0, 40.0)] {
            let of_model = ground_shadow(&[], &triangles, &sun(az, el)).unwrap();
            let a = of_model.unsigned_area();
            let b = of_block(&footprint, h, &sun(az, el)).unsigned_area();
            assert!(
                (a - b).abs() < 1e-6 * b,
                "sun {az}/{el}: {a} m² against {b} m²"
            );
        }
    }

    #[test]
    fn no_shadow_is_drawn_with_the_sun_down() {
        let footprint = rect(0.0, 0.0, 10.0, 10.0);
        let blocks = [Block {
            footprint: &footprint,
            height_m: 10.0,
        }];
        assert!(ground_shadow(&blocks, &[], &sun(180.0, 0.5)).is_none());
    }
}

mod fonts {
    /// Every string literal of the panels' sources (their Chinese and English labels,
    /// until one translation table holds them) draws with the bundled fonts: no boxes.
    #[test]
    fn every_label_of_the_panels_draws_with_the_bundled_fonts() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui");
        let mut labels = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            // Literals sit between the odd and even quotes of each line (escaped
            // quotes aside, which no label has).
            for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for literal in line.split('"').skip(1).step_by(2) {
                    labels += 1;
                    let missing = citytwin::ui::missing_glyphs(literal);
                    assert!(
                        missing.is_empty(),
                        "{}: \"{literal}\" has {missing:?}",
                        path.display()
                    );
                }
            }
        }
        assert!(labels > 200, "only {labels} literals found");
    }
}

mod feed_names {
    use citytwin::feeds::short_name;

    /// The feeds panel names a source by what tells it apart, never as the `#` of a
    /// topic filter, and never with its credentials.
    #[test]
    fn a_feed_is_named_by_its_file_broker_and_topic_or_host_and_resource() {
        for (spec, name) in [
            (
                "mqtt://ops:s3cret@broker.zz.local:1883/city/zhengzhou/#",
                "broker.zz.local:1883 · city/zhengzhou/#",
            ),
            (
                "mqtts://broker:8883/+/devices/+",
                "broker:8883 · +/devices/+",
            ),
            ("mqtt://broker:1883", "broker:1883"),
            ("replay:data-feeds/demo.ndjson@10,loop", "demo.ndjson"),
            (
                "replay:/d/a.ndjson+/d/journal.ndjson",
                "a.ndjson + journal.ndjson",
            ),
            (
                "https://api.zz.local/v1/hotline/orders?token=abc#every=5s",
                "api.zz.local · orders",
            ),
            ("http://127.0.0.1:8080/", "127.0.0.1:8080"),
        ] {
            assert_eq!(short_name(spec), name, "{spec}");
            assert!(!short_name(spec).contains("s3cret") && !short_name(spec).contains("abc"));
        }
    }
}

mod camera_cones {
    use bevy::math::Vec3;
    use citytwin::view::markers::cone_rotation;

    /// A camera's cone opens where the camera looks: its base (the mesh's −Y end)
    /// towards the heading, clockwise from north (world −Z), its tip at the camera.
    #[test]
    fn a_camera_cone_opens_towards_its_heading() {
        for (heading, looking) in [
            (0.0, Vec3::NEG_Z),
            (90.0, Vec3::X),
            (180.0, Vec3::Z),
            (270.0, Vec3::NEG_X),
            (45.0, Vec3::new(1.0, 0.0, -1.0).normalize()),
        ] {
            let opens = cone_rotation(Some(heading)) * Vec3::NEG_Y;
            assert!(
                opens.distance(looking) < 1e-5,
                "heading {heading}: opens towards {opens}, not {looking}"
            );
        }
        // No heading: standing up, as any device marker.
        assert_eq!(cone_rotation(None) * Vec3::Y, Vec3::Y);
        assert_eq!(cone_rotation(Some(f64::NAN)) * Vec3::Y, Vec3::Y);
    }
}

mod language {
    use super::super::common::{load_scene, temp_dir, write};
    use bevy::prelude::*;
    use citytwin::city::CurrentScene;
    use citytwin::scene::Language;
    use citytwin::ui::{SwitchLanguage, switch_language};

    /// The header's button (a message) and the `L` key switch the panels' language,
    /// each press once; Chinese first.
    #[test]
    fn the_button_and_the_l_key_switch_the_language() {
        let dir = temp_dir("language");
        let path = write(
            &dir,
            "scene.ron",
            r#"(name: "l", origin: (lon: 113.665, lat: 34.754))"#,
        );
        let mut app = App::new();
        app.add_message::<SwitchLanguage>()
            .insert_resource(CurrentScene(load_scene(&path)))
            .init_resource::<ButtonInput<KeyCode>>()
            .add_systems(Update, switch_language);
        let language = |app: &App| app.world().resource::<CurrentScene>().0.file.language;
        app.update();
        assert_eq!(language(&app), Language::Chinese);
        app.world_mut().write_message(SwitchLanguage);
        app.update();
        assert_eq!(language(&app), Language::English);
        app.update();
        assert_eq!(language(&app), Language::English, "one press, one switch");
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(KeyCode::KeyL);
        app.update();
        assert_eq!(language(&app), Language::Chinese);
        // Held, not pressed again: no more switches.
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .clear();
        app.update();
        assert_eq!(language(&app), Language::Chinese);
    }
}

mod replay_speed {
    use citytwin::feeds::{FeedConfig, FeedSpec};

    /// The header's clock says how fast the replay runs; live feeds give no speed.
    #[test]
    fn the_header_shows_the_replay_speed() {
        let base = std::path::Path::new("/tmp");
        let config = |specs: &[&str]| FeedConfig {
            sources: specs
                .iter()
                .map(|s| (s.to_string(), FeedSpec::parse(s, base).unwrap()))
                .collect(),
            ..FeedConfig::default()
        };
        assert_eq!(
            config(&["replay:a.ndjson@10,loop"])
                .replay_speed()
                .as_deref(),
            Some("×10")
        );
        assert_eq!(
            config(&["replay:a.ndjson"]).replay_speed().as_deref(),
            Some("×1")
        );
        assert_eq!(
            config(&["replay:a.ndjson@max"]).replay_speed().as_deref(),
            Some("max")
        );
        assert_eq!(
            config(&["replay:a.ndjson@0.25", "replay:b.ndjson@max"])
                .replay_speed()
                .as_deref(),
            Some("×0.25 max")
        );
        assert_eq!(config(&["mqtt://broker:1883/city/#"]).replay_speed(), None);
    }
}

mod words {
    use citytwin::ui::{W, countdown, missing_glyphs};

    fn is_cjk(c: char) -> bool {
        ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
    }

    /// Every entry of the translation table has its Chinese (with Chinese characters
    /// in it) and its English (with none), and the bundled fonts draw every character
    /// of both: no boxes on the wall in either language.
    #[test]
    fn every_word_is_in_both_languages_and_every_character_draws() {
        assert!(W::ALL.len() > 100, "the table has {} entries", W::ALL.len());
        for w in W::ALL {
            let (zh, en) = (w.zh(), w.en());
            assert!(zh.chars().any(is_cjk), "{w:?}: no Chinese in {zh:?}");
            assert!(
                !en.trim().is_empty() && !en.chars().any(is_cjk),
                "{w:?}: English {en:?}"
            );
            assert_eq!(missing_glyphs(zh), Vec::<char>::new(), "{w:?}: {zh}");
            assert_eq!(missing_glyphs(en), Vec::<char>::new(), "{w:?}: {en}");
        }
    }

    /// No panel spells a Chinese word of its own: every word on screen comes from the
    /// table (comments aside).
    #[test]
    fn the_panels_take_every_word_from_the_table() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/ui");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("src/ui") {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == "i18n.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                assert!(
                    !code.chars().any(is_cjk),
                    "{}:{}: a word outside the translation table: {}",
                    path.display(),
                    n + 1,
                    line.trim()
                );
            }
            checked += 1;
        }
        assert!(checked >= 8, "only {checked} panel files");
    }

    #[test]
    fn countdowns_read_as_hours_minutes_seconds() {
        use chrono::TimeDelta;
        assert_eq!(
            countdown(TimeDelta::seconds(3 * 3600 + 5 * 60 + 9)),
            "3:05:09"
        );
        assert_eq!(countdown(TimeDelta::seconds(-59)), "0:00:59");
        assert_eq!(
            countdown(TimeDelta::seconds(2 * 86_400 + 3600)),
            "2d 1:00:00"
        );
    }
}

mod walls {
    use citytwin::scene::wall::WallSpec;
    use citytwin::view::wall::{PanelPlaces, WallLayout};

    #[test]
    fn a_wall_spec_gives_its_window_canvas_and_screens() {
        let wall = WallSpec::parse("4x2@1920x1080,bezel=18,distance=10").expect("parses");
        assert_eq!(wall.window_px(), (7680, 2160));
        assert_eq!(wall.canvas_px(), (7680 + 3 * 18, 2160 + 18));
        let screens = wall.screens();
        assert_eq!(screens.len(), 8);
        let s = screens
            .iter()
            .find(|s| (s.col, s.row) == (2, 1))
            .expect("screen");
        assert_eq!(s.window_at, (3840, 1080));
        assert_eq!(s.canvas_at, (2 * 1938, 1098));
        assert_eq!(
            wall.screen_at(3900.0, 1100.0).map(|s| (s.col, s.row)),
            Some((2, 1))
        );
        assert_eq!(wall.screen_at(7680.0, 0.0), None);
        // Sitting further away makes the panels larger, up to 1.5×.
        assert!((wall.ui_zoom() - 1.5).abs() < 1e-6);
        assert_eq!(WallSpec::parse("4k").expect("4k").ui_zoom(), 2.0);
        assert_eq!(
            WallSpec::parse("3x3").expect("3x3").window_px(),
            (5760, 3240)
        );
        assert_eq!(
            WallSpec::parse("laptop").expect("laptop").window_px(),
            (1280, 720)
        );
        for bad in [
            "5x",
            "4x2@10x10",
            "4x2@1920x1080,bezel=a",
            "4x2@1920x1080,tint=3",
            "0x2@1920x1080",
        ] {
            let e = WallSpec::parse(bad).expect_err(bad);
            assert!(e.starts_with(&format!("wall '{bad}'")), "{bad}: {e}");
        }
    }

    /// A tile's sub-view is its screen's part of the canvas, bezels included; the
    /// panels go to the tiles at the wall's edges.
    #[test]
    fn a_tile_shows_its_part_of_the_view_and_the_panels_of_its_place() {
        let two = WallLayout::tiled(None, (1, 0), (2, 1), (640, 720)).expect("tile");
        let sub = two.sub_view().expect("a sub-view");
        assert_eq!((sub.full_size.x, sub.full_size.y), (1280, 720));
        assert_eq!((sub.offset.x, sub.offset.y), (640.0, 0.0));
        assert_eq!((sub.size.x, sub.size.y), (640, 720));
        let bezels = WallSpec::parse("3x2@1920x1080,bezel=20").expect("wall");
        let tile = |c, r| WallLayout::tiled(Some(bezels), (c, r), (3, 2), (0, 0)).expect("tile");
        let sub = tile(2, 1).sub_view().expect("sub-view");
        assert_eq!((sub.full_size.x, sub.full_size.y), (5760 + 40, 2160 + 20));
        assert_eq!((sub.offset.x, sub.offset.y), (2.0 * 1940.0, 1100.0));
        let places = |c, r| tile(c, r).panels();
        assert_eq!(
            places(0, 0),
            PanelPlaces {
                header: true,
                left: true,
                right: false,
                bottom: false
            }
        );
        assert_eq!(
            places(1, 1),
            PanelPlaces {
                header: false,
                left: false,
                right: false,
                bottom: true
            }
        );
        assert_eq!(
            places(2, 1),
            PanelPlaces {
                header: false,
                left: false,
                right: true,
                bottom: false
            }
        );
        assert!(WallLayout::tiled(None, (2, 0), (2, 1), (640, 720)).is_err());
        let whole = WallLayout {
            wall: bezels,
            tile: None,
        };
        assert_eq!(whole.panels(), PanelPlaces::ALL);
        assert!(whole.sub_view().is_none());
    }
}
