//! The Redis connection pool, with a password that can change while it runs: deadpool-redis's
//! manager behind a swap. New connections authenticate with the current password; open ones stay
//! as they are (Redis keeps an authenticated connection when its password changes).

use deadpool::managed::{Metrics, RecycleResult};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{
    AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo,
    RedisError,
};
use deadpool_redis::Manager;
use secrecy::{ExposeSecret, SecretString};

use crate::configuration::RedisSettings;
use crate::swappable::Swappable;

pub type RedisPool = deadpool::managed::Pool<RotatingManager>;

/// Creates and recycles connections through the manager built for the current password.
pub struct RotatingManager {
    /// Address and user name: everything but the password.
    info: ConnectionInfo,
    config: AsyncConnectionConfig,
    current: Swappable<Manager>,
}

impl RotatingManager {
    pub fn new(settings: &RedisSettings, password: Option<&SecretString>) -> Result<Self, String> {
        let addr = if settings.tls {
            ConnectionAddr::TcpTls {
                host: settings.host.clone(),
                port: settings.port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(settings.host.clone(), settings.port)
        };
        let mut redis_info = RedisConnectionInfo::default();
        if let Some(user) = &settings.username {
            redis_info = redis_info.set_username(user);
        }
        let info = addr
            .into_connection_info()
            .map_err(|e| e.to_string())?
            .set_redis_settings(redis_info);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        let current = Swappable::new(manager(&info, &config, password)?);
        Ok(Self {
            info,
            config,
            current,
        })
    }

    /// New connections authenticate with `password` from now on.
    pub fn set_password(&self, password: Option<&SecretString>) -> Result<(), String> {
        self.current
            .replace(manager(&self.info, &self.config, password)?);
        Ok(())
    }
}

fn manager(
    info: &ConnectionInfo,
    config: &AsyncConnectionConfig,
    password: Option<&SecretString>,
) -> Result<Manager, String> {
    let mut redis_info = info.redis_settings().clone();
    if let Some(password) = password {
        redis_info = redis_info.set_password(password.expose_secret());
    }
    let info = info.clone().set_redis_settings(redis_info);
    Manager::new_with_config(info, config.clone()).map_err(|e| e.to_string())
}

impl deadpool::managed::Manager for RotatingManager {
    type Type = MultiplexedConnection;
    type Error = RedisError;

    async fn create(&self) -> Result<MultiplexedConnection, RedisError> {
        let current = self.current.current();
        deadpool::managed::Manager::create(&*current).await
    }

    async fn recycle(
        &self,
        connection: &mut MultiplexedConnection,
        metrics: &Metrics,
    ) -> RecycleResult<RedisError> {
        let current = self.current.current();
        deadpool::managed::Manager::recycle(&*current, connection, metrics).await
    }
}
