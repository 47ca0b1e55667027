//! The one translation table: every word the panels show, in Chinese and in English.
//! A panel names a word by its key ([`W`]) and [`Tr`] gives it in the wall's language:
//! Chinese with the English smaller beneath it, or English alone. A test checks that
//! every entry has both languages and that the bundled fonts draw every character.

use super::theme;
use crate::scene::Language;
use bevy_egui::egui::{self, Color32, FontId, text::LayoutJob};

macro_rules! words {
    ($($key:ident: $zh:literal, $en:literal;)*) => {
        /// A word of the panels (the table's key).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum W { $($key),* }

        impl W {
            /// Every entry of the table.
            pub const ALL: &'static [W] = &[$(W::$key),*];

            pub fn zh(self) -> &'static str {
                match self { $(W::$key => $zh),* }
            }

            pub fn en(self) -> &'static str {
                match self { $(W::$key => $en),* }
            }
        }
    };
}

words! {
    // Header.
    SyntheticData: "合成演示数据", "SYNTHETIC DEMO DATA";
    ModeDaily: "日常模式", "Daily";
    ModeHoliday: "重大节假日", "Major holiday";
    ModeEvent: "重大活动", "Major event";
    ModeEmergency: "应急模式", "Emergency";
    ReplayTime: "回放时间", "replay time";
    BeijingTime: "北京时间", "Beijing time";
    SwitchModeTo: "切换运行模式", "Switch the operating mode";
    Confirm: "确认", "Confirm";
    FollowingLeader: "跟随主控", "following the leader";
    LeaderLost: "主控失联，保持最后画面", "leader lost: keeping the last view";
    Cancel: "取消", "Cancel";
    // The replay's timeline.
    Paused: "已暂停", "paused";
    Slower: "减速", "Slower";
    Faster: "加速", "Faster";
    PreviousIncident: "上一事件", "Previous";
    NextIncident: "下一事件", "Next";
    LoopIn: "循环起点", "Loop from";
    LoopOut: "循环终点", "Loop to";
    LoopOff: "取消循环", "No loop";
    Seeking: "定位中", "seeking";
    TimelineKeys: "空格 播放/暂停 · [ ] 速度 · , . 上/下一事件 · PgUp PgDn 后退/前进10分钟 · Home End 循环起止 · Delete 取消循环", "Space play/pause · [ ] speed · , . previous/next incident · PgUp PgDn back/forward 10 min · Home End loop from/to · Delete no loop";
    // The language's own name (the header's button shows the other one).
    LanguageName: "中文", "English";
    // KPI board.
    Devices: "物联感知", "Devices";
    Total: "接入总数", "Total";
    Online: "在线", "Online";
    Alarm: "告警", "Alarm";
    Fault: "故障", "Fault";
    Offline: "离线", "Offline";
    OnlineRate: "在线率", "Online rate";
    City: "城市运行", "City";
    Buildings: "建筑", "Buildings";
    Roads: "道路", "Roads";
    Grids: "网格", "Grids";
    OrdersToday: "今日工单", "Orders today";
    OpenOrders: "待办工单", "Open orders";
    OverdueOrders: "超期工单", "Overdue orders";
    Closed: "已办结", "Closed";
    ClosureRate: "办结率", "Closure rate";
    Satisfaction: "满意率", "Satisfaction";
    MeanSign: "平均签收", "Mean signing";
    Minutes: "分钟", "min";
    OpenAlerts: "未处置告警", "Open alerts";
    // Alerts.
    Alerts: "告警", "Alerts";
    Critical: "紧急", "Critical";
    Major: "重要", "Major";
    Minor: "一般", "Minor";
    Info: "提示", "Info";
    NoAlerts: "无未处置告警", "no open alerts";
    Acknowledge: "确认", "Ack";
    Acknowledged: "已确认", "acknowledged";
    Silence: "静默1小时", "Silence 1 h";
    Silenced: "已静默", "silenced";
    Reports: "次上报", "reports";
    // Work orders.
    WorkOrders: "工单", "Work orders";
    NoOrders: "无待办工单", "no open orders";
    Overdue: "超期", "overdue";
    Left: "剩余", "left";
    ToSign: "待签收", "to sign";
    ThreeCross: "三跨", "3-cross";
    // Charts.
    EventsPerHour: "每小时事件", "Events per hour";
    Today: "今日", "today";
    Yesterday: "昨日", "yesterday";
    CategoryMix: "诉求类别", "Complaint categories";
    CatTraffic: "交通出行", "Traffic";
    CatPublicFacilities: "公共设施", "Public facilities";
    CatEducation: "教育", "Education";
    CatPropertyManagement: "物业管理", "Property";
    CatEnvironment: "环境保护", "Environment";
    CatHeating: "供暖", "Heating";
    CatMedical: "医疗社保", "Medical & social security";
    OnlineOverTime: "设备在线率", "Devices online";
    // Rankings and projects.
    DistrictRanking: "各区排名", "Districts";
    GridRanking: "网格排名", "Grids";
    OpenItems: "未结事项", "open items";
    Projects: "更新项目", "Renovation projects";
    NoProjects: "无项目", "no projects";
    ProjectsOverdue: "逾期", "late";
    PhasePlanned: "计划", "planned";
    PhaseDesign: "设计", "design";
    PhaseConstruction: "施工", "construction";
    PhaseAcceptance: "验收", "acceptance";
    PhaseCompleted: "完工", "completed";
    // A renovation project in the inspector.
    ProjectDetails: "项目详情", "Renovation project";
    Phase: "阶段", "Phase";
    Progress: "进度", "Progress";
    Budget: "投资", "Budget";
    Period: "工期", "Period";
    KindOldCommunity: "老旧小区", "old community";
    KindRoadWorks: "道路改造", "road works";
    KindPocketPark: "口袋公园", "pocket park";
    ItemDemolish: "拆除违建", "illegal structures removed";
    ItemResurface: "白改黑", "roads resurfaced";
    ItemCables: "线缆入地", "cables underground";
    ItemGreening: "绿化提升", "greening";
    ItemFacades: "立面整治", "façades";
    ItemPipes: "雨污分流", "rain and sewage separated";
    ItemCommunity: "完善社区功能", "community functions";
    ItemServices: "便民设施", "service facilities";
    ItemProperty: "引入物业", "property management";
    NotStarted: "未开始", "not started";
    InProgress: "进行中", "in progress";
    Done: "已完成", "done";
    // Map overlays (the status bar's toggles and legend).
    MapLayers: "图层", "Map";
    GridOrders: "网格工单", "orders per grid";
    GridAlerts: "网格告警", "alerts per grid";
    GridOff: "网格着色关", "grids plain";
    RenovationAreas: "改造范围", "renovation areas";
    OrderPins: "工单点位", "order pins";
    TrafficRoads: "路况", "traffic";
    TrafficFree: "畅通", "free";
    TrafficSlow: "缓行", "slow";
    TrafficJammed: "拥堵", "jammed";
    FreeParking: "空闲车位", "free parking";
    KeyVehicles: "重点车辆", "key vehicles";
    // Feeds.
    Feeds: "数据接入", "Feeds";
    NoFeeds: "无数据源", "no feeds";
    Starting: "连接中", "starting";
    Live: "接入中", "live";
    Stale: "无数据", "stale";
    Reconnecting: "重连中", "reconnecting";
    Finished: "回放结束", "finished";
    Failed: "失败", "failed";
    Received: "收", "recv";
    Applied: "用", "applied";
    Rejected: "拒", "rejected";
    Coalesced: "合并", "coalesced";
    Malformed: "格式错误", "malformed";
    WrongVersion: "版本不符", "version";
    UnknownKind: "未知类型", "unknown kind";
    BadData: "数据错误", "bad data";
    InvalidValue: "数值无效", "invalid value";
    TooLarge: "消息过大", "too large";
    OutOfOrder: "时间倒序", "out of order";
    NoPosition: "缺少位置", "no position";
    KindConflict: "类型冲突", "kind conflict";
    Duplicate: "重复消息", "duplicate";
    FutureTime: "时间超前", "future time";
    BackwardsTransition: "状态倒退", "backwards transition";
    AfterUntil: "超出截止时间", "after until";
    NotAllowed: "不允许", "not allowed";
    // Inspector.
    Camera: "视频监控", "Camera";
    IotDevice: "物联设备", "IoT device";
    Building: "建筑信息", "Building";
    Alert: "告警详情", "Alert";
    WorkOrder: "工单详情", "Work order";
    Id: "编号", "ID";
    Status: "状态", "Status";
    Kind: "类型", "Kind";
    Grid: "网格", "Grid";
    District: "区", "District";
    Position: "位置", "Position";
    Heading: "朝向", "Heading";
    Height: "高度", "Height";
    Properties: "属性", "Properties";
    Since: "开始", "Since";
    Deadline: "时限", "Deadline";
    Category: "类别", "Category";
    LinkedCameras: "联动视频", "Linked cameras";
    Snapshot: "实时画面", "Snapshot";
    NoSnapshotUrl: "无快照地址", "no snapshot URL";
    SnapshotFailed: "快照获取失败", "snapshot failed";
    Loading: "加载中…", "loading…";
    Elevator: "电梯", "Elevator";
    GasDetector: "燃气探测器", "Gas detector";
    ManholeCover: "井盖", "Manhole cover";
    WaterPressure: "供水压力", "Water pressure";
    BridgeStrain: "桥梁应变", "Bridge strain";
    ParkingSpace: "停车位", "Parking space";
    StreetLight: "路灯", "Street light";
    TrafficFlow: "交通流量", "Traffic flow";
    AirQuality: "空气质量", "Air quality";
    Other: "其他", "Other";
    // Status bar.
    LoadingCity: "加载城市…", "loading city…";
    CityFailed: "城市加载失败", "city failed to load";
    SkippedFeatures: "已跳过要素", "skipped features";
    Problems: "问题", "problems";
    // Planner.
    Reviewing: "正在计算方案与日照…", "reviewing the proposals…";
    SyntheticProposals: "合成演示方案", "SYNTHETIC demo proposals";
    Proposal: "方案", "Proposal";
    Compare: "对比", "Compare";
    ViewSingle: "单视图", "single";
    ViewSwipe: "卷帘", "swipe";
    ViewSideBySide: "并排", "side by side";
    ShowingCompare: "显示：对比 (B)", "showing: compare (B)";
    ShowingProposal: "显示：方案 (B)", "showing: proposal (B)";
    SwipePosition: "卷帘位置", "swipe";
    Checklist: "一拆五改三增加", "checklist";
    SunlightStandard: "日照 (GB 50180)", "sunlight (GB 50180)";
    Windows: "窗台点", "windows";
    BelowStandard: "不达标", "below the standard";
    PushedBelow: "由达标变不达标", "pushed below";
    AlreadyBelowWorse: "原不达标且变差", "already below, worse";
    OnlyByElevators: "仅因加装电梯", "only by added elevators";
    ShadedByElevators: "受电梯遮挡", "shaded by elevators";
    PinAtPoint: "钉在所点位置", "pin at the point clicked";
    WriteReport: "写出评审报告", "write the review report";
    Shadows: "阴影", "shadows";
    Pause: "暂停", "pause";
    Play: "播放", "play";
    TrueSolarTime: "真太阳时", "true solar time";
    Measure: "量测", "measure";
    Clear: "清除", "clear";
    Distance: "距离", "distance";
    PathLength: "路径", "path";
    Area: "面积", "area";
    MeasureHeight: "高度", "height";
    PointsClicked: "已点点数", "points clicked";
    Notes: "批注", "notes";
    SunAzimuth: "太阳方位", "sun azimuth";
    SunElevation: "高度角", "elevation";
    SiteArea: "用地 m²", "site m²";
    Coverage: "建筑密度", "coverage";
    FloorAreaRatio: "容积率", "FAR";
    GreenRatio: "绿地率", "green ratio";
    Parking: "停车位", "parking";
    Childcare: "托育 300 m", "childcare 300 m";
    ElderlyCare: "日间照料 300 m", "elderly care 300 m";
    Meals: "助餐 300 m", "meals 300 m";
}

/// The panels' language: Chinese with smaller English beneath, or English alone.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Language);

impl Tr {
    /// The word in the wall's language only, for tight spaces and running text.
    pub fn word(&self, w: W) -> &'static str {
        match self.0 {
            Language::Chinese => w.zh(),
            Language::English => w.en(),
        }
    }

    /// The word as a label: in Chinese, the English beneath it at 60 % of the size in
    /// the dim colour; in English, the English alone.
    pub fn rich(&self, w: W, size: f32, color: Color32) -> LayoutJob {
        self.rich_with(w, "", size, color)
    }

    /// As [`Tr::rich`], with `tail` (a number, a unit) after the main word.
    pub fn rich_with(&self, w: W, tail: &str, size: f32, color: Color32) -> LayoutJob {
        let mut job = LayoutJob::default();
        let main = egui::TextFormat::simple(FontId::proportional(size), color);
        job.append(self.word(w), 0.0, main.clone());
        if !tail.is_empty() {
            job.append(tail, 0.0, main);
        }
        if let Language::Chinese = self.0 {
            job.append(
                &format!("\n{}", w.en()),
                0.0,
                egui::TextFormat::simple(FontId::proportional((size * 0.6).max(11.0)), theme::DIM),
            );
        }
        job
    }

    /// A panel's section title: the word in the accent colour over a rule.
    pub fn section(&self, ui: &mut egui::Ui, w: W) {
        ui.label(self.rich(w, 22.0, theme::ACCENT));
        ui.separator();
    }
}
