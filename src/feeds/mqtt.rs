//! The `mqtt://[user@]host:port/topic-filter` source (`mqtts://` for TLS): subscribes with QoS 1 on a
//! persistent session. The client acknowledges each batch of messages it reads off
//! the socket in one write (one write per message, as manual acks would cost, made
//! this thread the bottleneck at 50,000 messages/s); a read message waits in the
//! client's queue, which survives reconnects, until it is in the channel. While the
//! channel is full the client is not polled, so nothing more is read or
//! acknowledged and the broker holds the rest: a full channel slows the broker
//! instead of losing messages. Reconnects with exponential backoff.
//!
//! Credentials: the user from the spec or the credentials file, the password from
//! the spec (`user:password@`, accepted with a warning), the credentials file, or
//! `CITYTWIN_MQTT_PASSWORD`; a client certificate (mTLS) from the credentials file.
//! None of them is ever shown. The client id is `citytwin-INSTANCE-HASH`: unique per
//! running instance (see `secrets::Instance`), stable across its restarts.

use super::schema::{DecodeError, FeedMessage};
use super::tls::TlsSetup;
use super::{Backoff, FeedEvent, SourceState, send, source_tls};
use crossbeam_channel::Sender;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;

/// Environment variable holding the broker password.
pub const PASSWORD_ENV: &str = "CITYTWIN_MQTT_PASSWORD";
/// Largest message decoded; bigger ones are rejected (and acknowledged, so the broker
/// does not redeliver them forever).
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Largest packet read off the connection. Anything above breaks the connection, so it
/// is far above `MAX_MESSAGE_BYTES`; brokers should cap messages below it
/// (mosquitto's `message_size_limit`).
const MAX_PACKET_BYTES: usize = 32 << 20;

/// Where to connect and what to subscribe to.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSpec {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<super::secrets::Secret>,
    pub topic: String,
    /// `mqtts://`: TLS.
    pub tls: bool,
    /// PEM certificate and key presented to brokers that require client certificates.
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// A fixed client id (credentials file); otherwise derived from the instance.
    pub client_id: Option<String>,
    /// The password was written in the spec.
    pub inline_secret: bool,
}

impl MqttSpec {
    /// Parses the part after `mqtt://`.
    pub fn parse(rest: &str) -> Result<Self, String> {
        let (authority, topic) = rest
            .split_once('/')
            .ok_or("needs a topic filter after host:port, e.g. mqtt://host:1883/city/#")?;
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, hp)) => (Some(u), hp),
            None => (None, authority),
        };
        let (user, password) = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
            Some((u, p)) => (
                Some(u.to_string()),
                (!p.is_empty()).then(|| super::secrets::Secret::new(p)),
            ),
            None => (None, None),
        };
        let (host, port) = host_port.rsplit_once(':').ok_or("needs host:port")?;
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("bad port '{port}' (1 to 65535)")),
        };
        if host.is_empty() || topic.is_empty() {
            return Err("needs a host and a topic filter".into());
        }
        if topic.len() > 1024 || topic.contains('\0') || !rumqttc::valid_filter(topic) {
            return Err(format!("'{topic}' is not a valid topic filter"));
        }
        Ok(Self {
            host: host.to_string(),
            port,
            user,
            inline_secret: password.is_some(),
            password,
            topic: topic.to_string(),
            tls: false,
            client_cert: None,
            client_id: None,
        })
    }

    /// The spec as it may be shown.
    pub fn shown(&self) -> String {
        format!(
            "{}://{}{}:{}/{}",
            if self.tls { "mqtts" } else { "mqtt" },
            self.user
                .as_ref()
                .map_or(String::new(), |u| format!("{u}@")),
            self.host,
            self.port,
            self.topic
        )
    }

    /// Takes what the credentials file has for this broker (the spec's own user and
    /// password win).
    pub fn apply(&mut self, creds: &super::secrets::Credentials) {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        let Some(c) = creds.for_source(scheme, &self.host, self.port, "") else {
            return;
        };
        if self.user.is_none() {
            self.user = c.user.clone();
        }
        if self.password.is_none() {
            self.password = c.password.clone();
        }
        self.client_cert = c.client_cert.clone();
        self.client_id = c.client_id.clone();
    }

    /// A warning when a password would cross the network in the clear.
    pub fn plaintext_warning(&self) -> Option<String> {
        let password = self.password.is_some()
            || (self.user.is_some() && std::env::var_os(PASSWORD_ENV).is_some());
        (password && !self.tls).then(|| {
            format!(
                "{}: the password is sent over plain mqtt://; use mqtts://",
                self.shown()
            )
        })
    }

    /// The client id: the credentials file's, or one derived from the instance and
    /// the spec, the same across restarts of the instance so the broker keeps the
    /// session (and its queued QoS 1 messages) for it, and different for another
    /// instance, so two walls never take each other's session.
    pub fn client_id(&self, instance: &str) -> String {
        if let Some(id) = &self.client_id {
            return id.clone();
        }
        let key = format!(
            "{}@{}:{}/{}",
            self.user.as_deref().unwrap_or(""),
            self.host,
            self.port,
            self.topic
        );
        // FNV-1a: stable across builds, unlike std's hasher.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        format!("citytwin-{instance}-{:08x}", hash as u32)
    }
}

fn options(spec: &MqttSpec, tls: Option<Arc<rustls::ClientConfig>>, instance: &str) -> MqttOptions {
    let mut o = MqttOptions::new(spec.client_id(instance), spec.host.clone(), spec.port);
    o.set_keep_alive(Duration::from_secs(10))
        .set_clean_session(false)
        .set_max_packet_size(MAX_PACKET_BYTES, 64 * 1024);
    if let Some(config) = tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    }
    if let Some(user) = &spec.user {
        let password = match &spec.password {
            Some(p) => p.expose().to_string(),
            None => std::env::var(PASSWORD_ENV).unwrap_or_default(),
        };
        o.set_credentials(user.clone(), password);
    }
    o
}

pub async fn run(
    source: usize,
    spec: MqttSpec,
    tx: Sender<FeedEvent>,
    tls: TlsSetup,
    instance: String,
    control_topics: Vec<String>,
) {
    let Ok(tls) = source_tls(source, spec.tls, &tls, &tx).await else {
        return;
    };
    let (client, mut events) = AsyncClient::new(options(&spec, tls, &instance), 64);
    let mut backoff = Backoff::new();
    let mut received = 0u64;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                // A broker that lost our session (restarted without persistence)
                // needs the subscription again.
                if !ack.session_present
                    && let Err(e) = client.try_subscribe(spec.topic.clone(), QoS::AtLeastOnce)
                {
                    let why = format!("cannot subscribe to {}: {e}", spec.topic);
                    send(
                        &tx,
                        FeedEvent::State {
                            source,
                            state: SourceState::Failed(why),
                        },
                    )
                    .await;
                    return;
                }
                if !send(
                    &tx,
                    FeedEvent::State {
                        source,
                        state: SourceState::Live,
                    },
                )
                .await
                {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                received += 1;
                let event = match std::str::from_utf8(&publish.payload) {
                    _ if publish.payload.len() > MAX_MESSAGE_BYTES => FeedEvent::Rejected {
                        source,
                        line: received,
                        error: DecodeError::TooLarge(publish.payload.len()),
                    },
                    Ok(text) => match FeedMessage::decode(text.trim()) {
                        Ok(message)
                            if matches!(message.body, super::schema::FeedBody::Operator(_))
                                && !control_topics
                                    .iter()
                                    .any(|f| rumqttc::matches(&publish.topic, f)) =>
                        {
                            FeedEvent::Rejected {
                                source,
                                line: received,
                                error: DecodeError::NotAllowed(format!(
                                    "operator action on topic {}, which is not one of the scene's security.control_topics",
                                    publish.topic
                                )),
                            }
                        }
                        Ok(message) => FeedEvent::Message { source, message },
                        Err(error) => FeedEvent::Rejected {
                            source,
                            line: received,
                            error,
                        },
                    },
                    Err(_) => FeedEvent::Rejected {
                        source,
                        line: received,
                        error: DecodeError::Envelope(format!(
                            "message on {} is not UTF-8",
                            publish.topic
                        )),
                    },
                };
                if !send(&tx, event).await {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                let why = format!(
                    "{}:{}: {e}; retrying in {:.1?}",
                    spec.host,
                    spec.port,
                    backoff.next()
                );
                if !send(
                    &tx,
                    FeedEvent::State {
                        source,
                        state: SourceState::Reconnecting(why),
                    },
                )
                .await
                {
                    return;
                }
                backoff.sleep().await;
            }
        }
    }
}
