//! `gen-city`: the same seed writes the same bytes; the scene it writes loads exactly what
//! the generator reports; the scales carry the sizes and device counts they promise.

use crate::common::*;
use citytwin::city::Buildings;
use citytwin::feeds::ingest::FeedEntities;
use citytwin::generate::city::{self, Scale};
use citytwin::generate::city_feed::{self, FULL_CAMERAS, FULL_DEVICES};
use citytwin::generate::city_files::{self, CityReport};
use indicatif::ProgressBar;
use std::time::Duration;

fn generate(name: &str, seed: u64) -> (std::path::PathBuf, CityReport) {
    let dir = temp_dir(name);
    let report = city_files::write_city(Scale::District, seed, &dir, &ProgressBar::hidden())
        .expect("gen-city runs");
    (dir, report)
}

#[test]
fn same_seed_same_bytes_and_the_scene_loads_what_was_generated() {
    let seed = city::DEFAULT_CITY_SEED;
    let (a, report) = generate("gen-city-a", seed);
    let (b, again) = generate("gen-city-b", seed);
    // 12 city files and 20 of the renovation proposals (北三街: 16, 陇海路: 4).
    assert_eq!(report.files.len(), 32, "{:?}", report.files);
    let proposals = report
        .files
        .iter()
        .filter(|f| f.strip_prefix(&a).is_ok_and(|r| r.starts_with("projects")))
        .count();
    assert_eq!(proposals, 20);
    assert_eq!(report.files.len(), again.files.len());
    for path in &report.files {
        let rel = path.strip_prefix(&a).unwrap();
        let (x, y) = (
            std::fs::read(path).unwrap(),
            std::fs::read(b.join(rel)).unwrap(),
        );
        assert!(x == y, "{} differs between two runs", rel.display());
    }
    let (c, _) = generate("gen-city-c", seed + 1);
    let buildings = |dir: &std::path::Path| std::fs::read(dir.join(city_files::BUILDINGS)).unwrap();
    assert!(
        buildings(&a) != buildings(&c),
        "another seed gives another city"
    );
    let text = String::from_utf8(buildings(&a)).unwrap();
    assert!(text.contains("\"synthetic\":true") && text.contains("SYNTHETIC"));

    // The district scale: the old centre with 北三街's 69 slabs, and the CBD.
    assert!(report.buildings > 5_000, "{report:?}");
    assert_eq!(text.matches("北三街小区").count(), 69);
    assert!(text.contains("CBD 商务内环"));

    let scene = load_scene(&a.join(city_files::SCENE));
    assert!(scene.file.synthetic);
    for view in ["overview", "erqi", "beisanjie", "cbd"] {
        assert!(scene.view(view).is_some(), "view {view} missing");
    }
    let loaded = citytwin::city::load_city(&scene);
    let errors: Vec<_> = loaded.data.errors().collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(loaded.data.buildings.len(), report.buildings);
    assert_eq!(loaded.data.roads.len(), report.roads);
    assert_eq!(loaded.data.districts.len(), report.districts);
    assert_eq!(loaded.data.subdistricts.len(), report.subdistricts);
    assert_eq!(loaded.data.grids.len(), report.grids);
    assert_eq!(loaded.data.pois.len(), report.pois);
    assert_eq!(loaded.data.land.len(), report.land);
    // The CBD's towers stand around a lake; 如意湖 lies in its park; parks are green.
    let land = |name: &str| {
        loaded
            .data
            .land
            .iter()
            .find(|l| l.area.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing"))
            .class
    };
    use citytwin::city::import::LandClass;
    assert_eq!(land("CBD 中心湖"), LandClass::Water);
    assert_eq!(land("如意湖"), LandClass::Water);
    assert_eq!(land("紫荆山公园"), LandClass::Green);
    assert_eq!(land("二七广场"), LandClass::Paved);
    let lake = loaded
        .data
        .land
        .iter()
        .find(|l| l.area.name.as_deref() == Some("CBD 中心湖"))
        .map(|l| l.area.shape.clone())
        .unwrap();
    let corn = loaded
        .models
        .iter()
        .find(|m| m.name == "千玺广场")
        .expect("corn");
    let corn = geo::Point::new(corn.translation.x as f64, -corn.translation.z as f64);
    let inner_towers = loaded
        .data
        .buildings
        .iter()
        .filter(|b| b.name.as_deref().is_some_and(|n| n.contains("商务内环")));
    use geo::{Centroid, Distance, Euclidean, Intersects};
    for tower in inner_towers {
        assert!(
            !tower.footprint.intersects(&lake),
            "{:?} stands in the lake",
            tower.name
        );
        let c = tower.footprint.centroid().unwrap();
        assert!(
            Euclidean.distance(c, corn) > 265.0,
            "{:?} inside the lake ring",
            tower.name
        );
    }
    assert!(
        !lake.intersects(&corn),
        "the corn stands on its plaza, not in the water"
    );
    // Pocket parks in the old blocks: green, and no building stands in one.
    let pocket: Vec<_> = loaded
        .data
        .land
        .iter()
        .filter(|l| {
            l.area
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("口袋公园"))
        })
        .collect();
    assert!(pocket.len() >= 10, "{} pocket parks", pocket.len());
    for park in &pocket {
        use geo::BoundingRect;
        assert_eq!(park.class, LandClass::Green);
        let r = park.area.shape.bounding_rect().unwrap();
        let inside = loaded.data.buildings.iter().find(|b| {
            b.footprint
                .bounding_rect()
                .is_some_and(|br| br.intersects(&r))
                && b.footprint.intersects(&park.area.shape)
        });
        assert!(
            inside.is_none(),
            "{:?} stands in {:?}",
            inside.map(|b| &b.id),
            park.area.name
        );
    }
    assert_eq!(loaded.models.len(), 2, "二七塔 and the corn are placed");
    let names: Vec<_> = loaded
        .data
        .roads
        .iter()
        .filter_map(|r| r.name.as_deref())
        .collect();
    for road in [
        "陇海路",
        "金水路",
        "紫荆山路",
        "人民路",
        "经三路",
        "城东路",
        "中原路",
    ] {
        assert!(names.contains(&road), "{road} missing from {names:?}");
    }

    // The whole pipeline: every building and every announced device reaches the ECS.
    let mut app = headless(scene);
    wait_for_city(&mut app);
    assert_eq!(
        app.world().resource::<Buildings>().0.len(),
        report.buildings
    );
    let markers = report.cameras + report.devices;
    update_until(&mut app, Duration::from_secs(60), "every device", |w| {
        w.resource::<FeedEntities>().len() >= markers
    });
    assert_eq!(app.world().resource::<FeedEntities>().len(), markers);
}

#[test]
fn city_and_full_scales_reach_their_sizes_and_full_has_the_published_device_counts() {
    let city = city::plan(Scale::City, city::DEFAULT_CITY_SEED, |_, _| {}).unwrap();
    assert!(city.buildings.len() >= 50_000, "{}", city.buildings.len());
    let full = city::plan(Scale::Full, city::DEFAULT_CITY_SEED, |_, _| {}).unwrap();
    assert!(full.buildings.len() >= 300_000, "{}", full.buildings.len());
    assert_eq!(full.districts.len(), 8);
    // The city's 7,876 community grids and 46,817 micro-grids, to within 1 %.
    let near = |n: usize, real: f64| (n as f64 / real - 1.0).abs() < 0.01;
    assert!(
        near(full.grids.len(), 7_876.0),
        "{} grids",
        full.grids.len()
    );
    assert!(
        near(full.micro_grids.len(), 46_817.0),
        "{} micro-grids",
        full.micro_grids.len()
    );
    // The hierarchy nests: every community grid lies in one street office, which is
    // numbered under the district that holds the grid's centre.
    assert!(
        full.subdistricts.len() > 8 * 5 && full.subdistricts.len() < full.grids.len() / 5,
        "{} street offices",
        full.subdistricts.len()
    );
    for g in full.grids.iter().step_by(13) {
        use geo::{Centroid, Contains};
        let c = g.shape.centroid().expect("a grid has a centre");
        let streets: Vec<_> = full
            .subdistricts
            .iter()
            .filter(|s| s.shape.contains(&c))
            .collect();
        assert_eq!(
            streets.len(),
            1,
            "grid {} in {} street offices",
            g.id,
            streets.len()
        );
        let district = full
            .districts
            .iter()
            .find(|d| d.shape.contains(&c))
            .expect("a grid lies in a district");
        assert!(
            streets[0].id.starts_with(&format!("{}-S", district.id)),
            "{} under {}",
            streets[0].id,
            district.id
        );
    }
    // Every building lies in the micro-grid it is filed under.
    for b in full.buildings.iter().step_by(97) {
        use geo::{Centroid, Contains};
        let c = b.footprint.centroid().expect("a footprint has a centre");
        assert!(
            full.micro_grids[b.micro_grid].shape.contains(&c),
            "{:?} is not in micro-grid {}",
            b.name,
            full.micro_grids[b.micro_grid].id
        );
    }
    let devices = city_feed::place_devices(&full);
    let cameras = devices.iter().filter(|d| d.kind.is_none()).count();
    assert_eq!(cameras, FULL_CAMERAS);
    for (kind, n) in FULL_DEVICES {
        assert_eq!(
            devices.iter().filter(|d| d.kind == Some(kind)).count(),
            n,
            "{kind:?}"
        );
    }
    assert_eq!(devices.len() - cameras, 219_300);
    let (lo, hi) = full.extent;
    assert!(devices.iter().all(|d| d.at.east_m > lo.east_m - 100.0
        && d.at.east_m < hi.east_m + 100.0
        && d.at.north_m > lo.north_m - 100.0
        && d.at.north_m < hi.north_m + 100.0));
}
